using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

[Collection(AloneCollection.Name)]
public class LearningRateScheduleTests
{
    private const double Peak = 0.002, Floor = 0.1;

    [Fact]
    public void HeldPeakFallsInAStraightLineOverTheLastShareOfTheSteps()
    {
        // 10 warmup steps, then 100: the fall takes the last 30, from step 80 to 110.
        var schedule = new LearningRateSchedule(Peak, 10, 110, Floor, 0.3);
        Assert.Equal(Peak / 10, schedule.At(0), 12);
        Assert.All(Enumerable.Range(9, 72), step => Assert.Equal(Peak, schedule.At(step), 12));
        Assert.Equal((Peak + Peak * Floor) / 2, schedule.At(95), 12);
        Assert.Equal(Peak * Floor, schedule.At(110), 12);
        Assert.Equal(Peak * Floor, schedule.At(150), 12);
        var falling = Enumerable.Range(80, 31).Select(schedule.At).ToArray();
        Assert.All(falling.Zip(falling.Skip(1)), pair => Assert.True(pair.Second < pair.First, $"{pair.Second} after {pair.First}"));
    }

    [Fact]
    public void MoreStepsBeforeTheFallLeaveTheRateAsItWas()
    {
        // A time budget's speed measurement that plans 130 steps instead of 110 only moves where the fall starts.
        var planned = new LearningRateSchedule(Peak, 10, 110, Floor, 0.3);
        var replanned = new LearningRateSchedule(Peak, 10, 130, Floor, 0.3);
        Assert.All(Enumerable.Range(0, 81), step => Assert.Equal(planned.At(step), replanned.At(step), 12));
        // The cosine reshapes every step after warmup.
        Assert.NotEqual(new LearningRateSchedule(Peak, 10, 110, Floor).At(40), new LearningRateSchedule(Peak, 10, 130, Floor).At(40), 6);
    }

    [Fact]
    public void CosineFallsFromThePeakToTheFloorOverAllStepsAfterWarmup()
    {
        var schedule = new LearningRateSchedule(Peak, 10, 110, Floor);
        Assert.Equal(Peak, schedule.At(10), 12);
        Assert.Equal((Peak + Peak * Floor) / 2, schedule.At(60), 12);
        Assert.Equal(Peak * Floor, schedule.At(110), 12);
    }

    [Fact]
    public void RunFromScratchHoldsItsPeakWhileLanguagePhasesAndFineTuningKeepTheCosine()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 100);
        double RateAtStep20(TrainingOptions options)
        {
            var recorder = new TrainingFixture.Recorder();
            new Trainer(options, recorder).Run(false, CancellationToken.None);
            return recorder.Events.OfType<TrainingStep>().Single(s => s.Step == 20).Lr;
        }

        var fromScratch = TrainingFixture.Options(data, Path.Combine(dir, "scratch"), maxSteps: 40) with { LearningRate = Peak };
        Assert.True(fromScratch.HoldPeakLearningRate);
        Assert.Equal(Peak, RateAtStep20(fromScratch), 9);

        var languagePhase = fromScratch.AsLanguagePhase() with { RunDirectory = Path.Combine(dir, "phase") };
        Assert.False(languagePhase.HoldPeakLearningRate);
        Assert.InRange(RateAtStep20(languagePhase), Peak * Floor, Peak * 0.9);

        var fineTuning = fromScratch with { RunDirectory = Path.Combine(dir, "fine-tuned"), BaseModel = RunFolder.At(Path.Combine(dir, "scratch")).ModelDirectory };
        Assert.InRange(RateAtStep20(fineTuning), Peak * Floor, Peak * 0.9);
    }
}
