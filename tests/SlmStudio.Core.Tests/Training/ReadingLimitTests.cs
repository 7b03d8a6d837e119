using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

[Collection(AloneCollection.Name)]
public class ReadingLimitTests
{
    [Theory]
    [InlineData(4096, 36_000, 300)]      // a 100 KB text: 30 readings are 264 steps, below the floor
    [InlineData(4096, 332_255, 2_434)]   // 1 MB: 30 readings
    [InlineData(4096, 10_000_000, 73_243)]
    public void StepsAreThirtyReadingsButNeverFewerThanTheFloor(long tokensPerStep, long trainTokens, int expected)
    {
        Assert.Equal(expected, ReadingLimit.Steps(tokensPerStep, trainTokens));
        Assert.True(ReadingLimit.Steps(tokensPerStep, trainTokens) >= PresetSelector.MinimumSteps);
    }

    [Fact]
    public void ABudgetRunOnASmallTextEndsAtTheLimitAndSaysWhy()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 100);
        var run = Path.Combine(dir, "run");
        var recorder = new TrainingFixture.Recorder();
        // Time moves 10 ms whenever the trainer reads the clock: a 10-minute budget fits thousands of steps.
        var clock = new ManualClock { AdvancePerRead = TimeSpan.FromMilliseconds(10) };
        var options = TrainingFixture.Options(data, run, maxSteps: 1, evalEvery: 100) with { MaxSteps = null, Minutes = 10 };
        var finished = new Trainer(options, recorder, clock).Run(false, CancellationToken.None);

        var settings = RunPreparation.Load(RunFolder.At(run)).Settings;
        var limit = ReadingLimit.Steps(16 * 64, settings.TrainTokens);
        Assert.Equal(limit, finished.Step);
        Assert.Contains(recorder.Events.OfType<TrainingMessage>(), m => m.Text.Contains($"{limit:N0} steps read it") && m.Text.Contains("The run stops after those steps") && m.Text.Contains("of its 10 minutes"));
        Assert.DoesNotContain(recorder.Events.OfType<TrainingMessage>(), m => m.Text.Contains("steps fit in the"));
        Assert.True(finished.ElapsedSeconds < 0.5 * 600, $"the run took {finished.ElapsedSeconds} s of its 600");
        // The floor reads the text far more than 24 times, and the text is small for the model: the higher dropout.
        Assert.Contains(recorder.Events.OfType<TrainingMessage>(), m => m.Text.Contains($"dropout {RepetitionDropout.HighRate:0.##}"));
    }
}
