using SlmStudio.Core.Training;

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
        var run = new Data.TrainingRun { Preset = "tiny", Minutes = 3, VocabSize = 512, Seed = 7, EvalEvery = 8 };
        var args = Jobs.TrainingJob.BuildArguments(run, "/d", "/r", resume: true, baseModel: null);
        Assert.Equal(["train", "--data", "/d", "--out", "/r", "--preset", "tiny", "--minutes", "3", "--vocab-size", "512", "--seed", "7", "--eval-every", "8", "--log-every", "2", "--resume"], args);

        var fineTune = Jobs.TrainingJob.BuildArguments(run, "/d", "/r", resume: false, baseModel: "/base");
        Assert.DoesNotContain("--preset", fineTune); // the CLI refuses --preset with --base
        Assert.DoesNotContain("--vocab-size", fineTune);
        Assert.Contains("/base", fineTune);
    }
}
