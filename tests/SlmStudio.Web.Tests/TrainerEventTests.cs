using SlmStudio.Core.Processes;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;

namespace SlmStudio.Web.Tests;

public class TrainerEventTests
{
    [Fact]
    public void Parses_the_contract_lines()
    {
        var step = Assert.IsType<TrainingStep>(TrainingEvent.Parse("""{"event":"step","step":10,"maxSteps":500,"loss":3.21,"lr":0.001,"tokensPerSecond":12345.6,"elapsedSeconds":4.2,"etaSeconds":120.5}"""));
        Assert.Equal("step", step.Kind);
        Assert.Equal(10, step.Step);
        Assert.Equal(3.21, step.Loss);
        Assert.Equal(120.5, step.EtaSeconds);

        var eval = Assert.IsType<EvaluationResult>(TrainingEvent.Parse("""{"event":"eval","step":100,"trainLoss":2.1,"valLoss":2.3,"perplexity":9.97,"bitsPerChar":1.4,"samples":[{"prompt":"The","text":"The end"}]}"""));
        Assert.Equal(2.3, eval.ValLoss);
        Assert.Equal("The end", Assert.Single(eval.Samples).Text);

        var finished = Assert.IsType<TrainingFinished>(TrainingEvent.Parse("""{"event":"finished","step":500,"bestValLoss":2.0,"perplexity":7.4,"bitsPerChar":1.2,"cancelled":true,"modelDir":"r/model"}"""));
        Assert.True(finished.Cancelled);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Training a tokenizer...")]
    [InlineData("{not json")]
    [InlineData("""{"step":3}""")]
    public void Ignores_lines_that_are_not_events(string line) => Assert.Null(TrainingEvent.Parse(line));

    [Fact]
    public void Training_arguments_follow_the_cli_contract()
    {
        var run = new TrainingRun { Preset = "tiny", Minutes = 3, VocabSize = 512, Seed = 7, EvalEvery = 8 };
        var args = TrainingJob.BuildArguments(run, "/d", "/r", resume: true, baseModel: null);
        Assert.Equal(["train", "--data", "/d", "--out", "/r", "--preset", "tiny", "--minutes", "3", "--vocab-size", "512", "--seed", "7", "--eval-every", "8", "--log-every", "2", "--resume"], args);

        var fineTune = TrainingJob.BuildArguments(run, "/d", "/r", resume: false, baseModel: "/base");
        Assert.DoesNotContain("--preset", fineTune); // the CLI refuses --preset with --base
        Assert.DoesNotContain("--vocab-size", fineTune);
        Assert.Contains("/base", fineTune);
    }

    [Fact]
    public void A_run_without_a_time_budget_leaves_it_to_the_engine()
    {
        var run = new TrainingRun { Preset = "tiny", Minutes = null, VocabSize = 512, Seed = 7 };
        Assert.DoesNotContain("--minutes", TrainingJob.BuildArguments(run, "/d", "/r", resume: false, baseModel: null));
        run.MaxStepsSetting = 12;
        run.Minutes = 3;
        var steps = TrainingJob.BuildArguments(run, "/d", "/r", resume: false, baseModel: null);
        Assert.Contains("--max-steps", steps);
        Assert.DoesNotContain("--minutes", steps);
    }

    private static readonly TrainingFinished Done = (TrainingFinished)TrainingEvent.Parse("""{"event":"finished","step":12,"bestValLoss":2.0,"perplexity":7.4,"bitsPerChar":1.2,"cancelled":false,"modelDir":"m"}""")!;

    [Fact]
    public void How_a_trainer_ended_decides_what_the_run_becomes()
    {
        var clean = new EngineExit(0, "", EndReason.None);
        Assert.Equal((RunStatus.Trained, null), TrainingJob.Outcome(clean, Done, null, RunStatus.Cancelled, shuttingDown: false));
        // Asked to stop: the trainer saved a checkpoint and said so; the reason decides cancelled or interrupted.
        Assert.Equal((RunStatus.Interrupted, null), TrainingJob.Outcome(clean, Done with { Cancelled = true }, null, RunStatus.Interrupted, false));
        Assert.Equal((RunStatus.Cancelled, null), TrainingJob.Outcome(clean, Done with { Cancelled = true }, null, RunStatus.Cancelled, false));
        // Killed after the grace period during a shutdown: resumable, not failed.
        Assert.Equal((RunStatus.Interrupted, null), TrainingJob.Outcome(new EngineExit(137, "", EndReason.Killed), null, null, RunStatus.Interrupted, true));
        // Killed after the grace period of a user's cancel (a busy machine): cancelled and resumable, not failed.
        Assert.Equal((RunStatus.Cancelled, null), TrainingJob.Outcome(new EngineExit(137, "", EndReason.Killed), null, null, RunStatus.Cancelled, false));

        // Killed from outside without a checkpoint: failed, and the message says what happened (issue 14).
        var (status, message) = TrainingJob.Outcome(new EngineExit(137, "", EndReason.None), null, null, RunStatus.Cancelled, false);
        Assert.Equal(RunStatus.Failed, status);
        Assert.Contains("killed from outside (SIGKILL)", message);
        Assert.Equal("The data is too short.", TrainingJob.Outcome(new EngineExit(1, "", EndReason.None), null, (TrainingError)TrainingEvent.Parse("""{"event":"error","message":"The data is too short."}""")!, RunStatus.Cancelled, false).Error);
        Assert.Contains("exit code 1", TrainingJob.Outcome(new EngineExit(1, "", EndReason.None), null, null, RunStatus.Cancelled, false).Error);
    }

    [Fact]
    public void Export_failures_keep_their_user_messages()
    {
        Assert.Null(ExportJob.FailureMessage(new ExportExit(new EngineExit(0, "", EndReason.None), false)));
        Assert.Equal("Training finished, but the exported model did not give the same answers as the trained one, so it was not registered. Please report this to your administrator.",
            ExportJob.FailureMessage(new ExportExit(new EngineExit(1, "error: the ONNX model does not reproduce it", EndReason.None), ParityFailed: true)));
        Assert.Equal("Training finished, but turning the model into downloadable files failed: The folder r has no model.",
            ExportJob.FailureMessage(new ExportExit(new EngineExit(1, "error: The folder r has no model.", EndReason.None), false)));
        Assert.Contains("The export process was killed from outside (SIGKILL)", ExportJob.FailureMessage(new ExportExit(new EngineExit(137, "", EndReason.None), false)));
        Assert.Contains("aborted (SIGABRT)", ExportJob.FailureMessage(new ExportExit(new EngineExit(134, "Unhandled exception. System.IO.IOException: disk", EndReason.None), false)));
    }
}
