using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

[Collection(AloneCollection.Name)]
public class TrainerTests
{
    [Fact]
    public void TinyModelLearnsStructuredCorpusAndReproducesPhrase()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir);
        var run = Path.Combine(dir, "run");
        var recorder = new TrainingFixture.Recorder();
        var finished = new Trainer(TrainingFixture.Options(data, run, maxSteps: 300, evalEvery: 100), recorder).Run(resume: false, CancellationToken.None);

        // Unigram entropy of the validation tokens: what a model that ignores context would reach at best.
        var tokenizer = TokenizerFile.Load(Path.Combine(run, "model", "tokenizer.json"));
        using var val = TokenBin.Open(Path.Combine(run, "data", "val.bin"), tokenizer.VocabSize);
        var ids = new long[val.Count];
        val.Read(0, ids);
        var unigram = ids.GroupBy(i => i).Select(g => (double)g.Count() / ids.Length).Sum(p => -p * Math.Log(p));
        Assert.False(finished.Cancelled);
        Assert.Equal(300, finished.Step);
        Assert.True(finished.BestValLoss < 0.5 * unigram, $"validation loss {finished.BestValLoss:F3} is not far below the unigram entropy {unigram:F3}");
        // The reported baseline is a unigram model fitted on the training text: never better than the validation text's own unigram entropy.
        Assert.True(finished.BaselineValLoss >= unigram - 0.01, $"baseline {finished.BaselineValLoss:F3} below entropy {unigram:F3}");
        Assert.Equal(finished.BaselineValLoss, recorder.Events.OfType<TrainingStarted>().Single().BaselineValLoss);

        var evals = recorder.Events.OfType<EvaluationResult>().ToList();
        Assert.Equal([100, 200, 300], evals.Select(e => e.Step));
        Assert.True(evals[^1].ValLoss < evals[0].ValLoss);
        Assert.All(evals, e => Assert.Equal(2, e.Samples.Count));

        var (model, _) = ModelFolder.Load(Path.Combine(run, "model"));
        var prompt = new[] { tokenizer.BosId!.Value }.Concat(tokenizer.Encode("Our support team answers")).ToArray();
        var continuation = tokenizer.Decode(Generation.Greedy(model, prompt, 12));
        Assert.StartsWith(" every email within one business day.", continuation);
    }

    [Fact]
    public void BFloat16StepsLearnAndSaveFloat32Weights()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir);
        var run = Path.Combine(dir, "run");
        var recorder = new TrainingFixture.Recorder();
        var options = TrainingFixture.Options(data, run, maxSteps: 300, evalEvery: 100) with { Precision = TrainingPrecision.BFloat16 };
        var finished = new Trainer(options, recorder).Run(resume: false, CancellationToken.None);

        Assert.Contains(recorder.Events.OfType<TrainingMessage>(), m => m.Text.Contains("bfloat16", StringComparison.Ordinal));
        // The same bar as the float32 run above: far below what a model that ignores context reaches.
        Assert.True(finished.BestValLoss < 0.5 * finished.BaselineValLoss, $"validation loss {finished.BestValLoss:F3} is not far below the unigram baseline {finished.BaselineValLoss:F3}");
        var evals = recorder.Events.OfType<EvaluationResult>().ToList();
        Assert.True(evals[^1].ValLoss < evals[0].ValLoss);
        var weights = SafetensorsFile.Read(Path.Combine(run, "model", ModelFolder.WeightsFile));
        Assert.All(weights.Values, t => Assert.True(t.Data.All(float.IsFinite)));
        var (model, _) = ModelFolder.Load(Path.Combine(run, "model"));
        Assert.All(model.parameters(), p => Assert.Equal(TorchSharp.torch.ScalarType.Float32, p.dtype));
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void ResumedRunMatchesUninterruptedRun(string precision)
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 400);
        var straight = new TrainingFixture.Recorder();
        new Trainer(TrainingFixture.Options(data, Path.Combine(dir, "a"), maxSteps: 40, evalEvery: 20) with { Precision = precision }, straight).Run(false, CancellationToken.None);

        using var cts = new CancellationTokenSource();
        var first = new TrainingFixture.Recorder { OnEvent = e => { if (e is CheckpointSaved { Step: 20 }) cts.Cancel(); } };
        var options = TrainingFixture.Options(data, Path.Combine(dir, "b"), maxSteps: 40, evalEvery: 20) with { Precision = precision };
        var stopped = new Trainer(options, first).Run(false, cts.Token);
        Assert.True(stopped.Cancelled);
        Assert.Equal(20, stopped.Step);
        Assert.False(File.Exists(Path.Combine(dir, "b", "result.json")));

        var second = new TrainingFixture.Recorder();
        var resumed = new Trainer(options, second).Run(true, CancellationToken.None);
        Assert.Equal(40, resumed.Step);
        Assert.Equal(20, second.Events.OfType<TrainingStarted>().Single().StartStep);

        TrainingFixture.AssertResumedLossesMatch(straight, second, resumedAt: 20, tolerance: 1e-3);
        var expectedVal = straight.Events.OfType<EvaluationResult>().Last().ValLoss;
        Assert.True(Math.Abs(expectedVal - second.Events.OfType<EvaluationResult>().Last().ValLoss) < 1e-3);
    }

    [Fact]
    public void CancelFileStopsRunWithinAStepAndLeavesResumableCheckpoint()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 400);
        var run = Path.Combine(dir, "run");
        var recorder = new TrainingFixture.Recorder
        {
            OnEvent = e => { if (e is TrainingStep { Step: 10 }) File.WriteAllText(RunFolder.At(run).CancelFile, ""); },
        };
        var finished = new Trainer(TrainingFixture.Options(data, run, maxSteps: 1000), recorder).Run(false, CancellationToken.None);
        Assert.True(finished.Cancelled);
        Assert.InRange(finished.Step, 10, 11);
        Assert.True(File.Exists(RunFolder.At(run).CheckpointFile));
        Assert.True(File.Exists(Path.Combine(run, "model", "model.safetensors")));

        var resumed = new Trainer(TrainingFixture.Options(data, run, maxSteps: 1000) with { MaxSteps = 1000 }, new TrainingFixture.Recorder
        {
            OnEvent = e => { if (e is TrainingStep { Step: 20 }) File.WriteAllText(RunFolder.At(run).CancelFile, ""); },
        }).Run(true, CancellationToken.None);
        Assert.True(resumed.Cancelled);
        Assert.InRange(resumed.Step, 20, 21);
    }

    [Fact]
    public void TimeBudgetSetsStepsFromMeasuredSpeed()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 400);
        var recorder = new TrainingFixture.Recorder();
        var options = TrainingFixture.Options(data, Path.Combine(dir, "run"), maxSteps: 1) with { MaxSteps = null, Minutes = 0.25 };
        // Time moves 50 ms whenever the trainer looks at the clock, however fast or busy this machine is.
        var clock = new ManualClock { AdvancePerRead = TimeSpan.FromMilliseconds(50) };
        var finished = new Trainer(options, recorder, clock).Run(false, CancellationToken.None);

        Assert.Contains(recorder.Events.OfType<TrainingMessage>(), m => m.Text.Contains("steps fit in the"));
        Assert.True(finished.Step > TimeBudget.ProbeSteps, $"stopped at step {finished.Step}");
        Assert.True(recorder.Events.OfType<TrainingStep>().Last().MaxSteps > TimeBudget.ProbeSteps);
        // The run ends by itself within the budget's allowance (the last evaluation and checkpoint read the clock twice).
        Assert.InRange(finished.ElapsedSeconds, 0.5 * 15, 15 * TimeBudget.Overrun + 0.2);
        Assert.Equal(finished.Step, recorder.Events.OfType<CheckpointSaved>().Last().Step);
    }
}
