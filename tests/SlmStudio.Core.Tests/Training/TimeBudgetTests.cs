using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

public class TimeBudgetTests
{
    private static readonly EvaluationCost Cost = new(ValidationBatches: 3, SampleTokens: 20, EvalEvery: 10);

    private static void Train(TimeBudget budget, ManualClock clock, double secondsPerStep) =>
        budget.TimeStep(() => clock.Advance(TimeSpan.FromSeconds(secondsPerStep)));

    [Fact]
    public void FirstStepsFixTheScheduleThenATenthOfTheBudgetCorrectsIt()
    {
        var clock = new ManualClock();
        var budget = new TimeBudget(100, startStep: 0, scheduleFixed: false, elapsedBefore: 0, Cost, clock);
        for (int step = 1; step < TimeBudget.ProbeSteps; step++)
        {
            Train(budget, clock, 0.5);
            Assert.Null(budget.Refit(step, null));
        }
        Train(budget, clock, 0.5);
        // 0.5 s a step; an evaluation costs a third of a step per validation batch plus 0.05 s per sampled token
        // (0.5 + 1 = 1.5 s), spread over 10 steps: 0.65 s a step for the 100 - 2 - 1.5 - 2 s that remain.
        Assert.Equal(new BudgetFit(4 + 145, First: true, SecondsPerStep: 0.5), budget.Refit(4, null));

        // The machine gets busy: steps now take 1 s. At 10 s (a tenth of the budget) the schedule is measured again.
        for (int step = 5; step < 12; step++)
        {
            Train(budget, clock, 1.0);
            Assert.Null(budget.Refit(step, 149));
        }
        Train(budget, clock, 1.0);
        Assert.Equal(new BudgetFit(12 + 71, First: false, SecondsPerStep: 1.0), budget.Refit(12, 149)); // (100 - 10 - 2 - 2) / 1.2
        Train(budget, clock, 1.0);
        Assert.Null(budget.Refit(13, 83)); // not again until 40% of the budget
    }

    /// <summary>A run as the trainer drives it: a step, the budget's measurement, an evaluation every 10 steps, until
    /// the schedule's last step or the budget's overrun.</summary>
    private static (int Steps, List<(int Step, BudgetFit Fit)> Fits) Run(TimeBudget budget, ManualClock clock, Func<int, double> secondsPerStep, double evaluationSeconds)
    {
        int? maxSteps = null;
        var fits = new List<(int Step, BudgetFit Fit)>();
        for (int step = 1; step < 100_000 && !budget.IsUsedUp; step++)
        {
            Train(budget, clock, secondsPerStep(step));
            if (budget.Refit(step, maxSteps) is { } fit) { fits.Add((step, fit)); maxSteps = fit.MaxSteps; }
            if (step % 10 == 0 || step == maxSteps) clock.Advance(TimeSpan.FromSeconds(evaluationSeconds));
            if (step == maxSteps) return (step, fits);
        }
        throw new InvalidOperationException("The schedule never ended.");
    }

    [Fact]
    public void LaterMeasurementsCountEvaluationsAtTheirRealCost()
    {
        var clock = new ManualClock();
        var budget = new TimeBudget(100, 0, false, 0, Cost, clock);
        // 0.5 s a step, and evaluations that really take 4 s where the estimate says 1.5 s. The probe and the tenth of
        // the budget fix about 145 steps: 128 s with the real evaluations. At 40% the wall clock shows 0.9 s a step,
        // and the run is cut to about 105 steps, which end with their last evaluation inside the budget.
        var (steps, fits) = Run(budget, clock, _ => 0.5, evaluationSeconds: 4);
        Assert.Equal(149, fits[0].Fit.MaxSteps);
        Assert.InRange(fits.Count, 3, 1 + TimeBudget.RefitAt.Length);
        Assert.InRange(steps, 100, 110);
        Assert.InRange(budget.ElapsedSeconds, 95, 100);
    }

    [Fact]
    public void AScheduleFixedOnABusyMachineIsExtendedWhenItWouldEndEarly()
    {
        var clock = new ManualClock();
        var budget = new TimeBudget(1000, 0, false, 0, Cost, clock);
        // The first 12 steps share the cores (20 s each; the tenth of the budget still sees them), then 1 s a step:
        // the 44 steps fixed at the start end after about 280 s, long before the 40% measurement, so they are
        // measured again there and extended.
        var (steps, fits) = Run(budget, clock, step => step <= 12 ? 20 : 1, evaluationSeconds: 1);
        Assert.Equal(44, fits[0].Fit.MaxSteps);
        Assert.Contains(fits, f => f.Step == 44 && f.Fit.MaxSteps > 44);
        Assert.InRange(budget.ElapsedSeconds, 0.9 * 1000, 1000);
        Assert.True(steps > 500, $"{steps} steps");
    }

    [Fact]
    public void AStepLimitEndsTheRunEarlyAndIsNotExtended()
    {
        var clock = new ManualClock();
        var budget = new TimeBudget(1000, 0, false, 0, Cost, clock, stepLimit: 300);
        // 0.5 s a step fits about 1,500 steps; the limit ends the run after 300 (about 170 s) and the schedule that
        // ends with most of the budget left is not extended as a busy start's would be.
        var (steps, fits) = Run(budget, clock, _ => 0.5, evaluationSeconds: 1);
        Assert.Equal(300, steps);
        Assert.Equal(new BudgetFit(300, First: true, SecondsPerStep: 0.5, Limited: true), fits[0].Fit);
        Assert.Single(fits);
        Assert.InRange(budget.ElapsedSeconds, 150, 200);

        // A machine too slow for the limit gets the steps that fit, as without one.
        var slowClock = new ManualClock();
        var slow = new TimeBudget(100, 0, false, 0, Cost, slowClock, stepLimit: 300);
        var (slowSteps, slowFits) = Run(slow, slowClock, _ => 0.5, evaluationSeconds: 1);
        Assert.DoesNotContain(slowFits, f => f.Fit.Limited);
        Assert.InRange(slowSteps, 100, 200);
    }

    [Fact]
    public void SmallCorrectionsKeepTheSchedule()
    {
        var clock = new ManualClock();
        var budget = new TimeBudget(100, 0, false, 0, Cost, clock);
        for (int step = 1; step <= 4; step++) Train(budget, clock, 0.5);
        Assert.Equal(149, budget.Refit(4, null)!.MaxSteps);
        // Same speed at a tenth of the budget (step 21, 10.5 s): 21 + 86 / 0.65 = 153 steps, within 2% of a schedule
        // of 151 steps.
        for (int step = 5; step <= 20; step++)
        {
            Train(budget, clock, 0.5);
            Assert.Null(budget.Refit(step, 151));
        }
        Train(budget, clock, 0.5);
        Assert.Null(budget.Refit(21, 151));
    }

    [Fact]
    public void ARunStopsOnlyWhenItsFixedScheduleOverrunsTheBudget()
    {
        var clock = new ManualClock();
        var unfixed = new TimeBudget(60, 0, false, 0, Cost, clock);
        clock.Advance(TimeSpan.FromSeconds(120));
        Assert.False(unfixed.IsUsedUp); // speed not measured yet: no schedule to end

        var resumed = new TimeBudget(60, startStep: 40, scheduleFixed: true, elapsedBefore: 50, Cost, clock);
        Assert.Equal(50, resumed.ElapsedSeconds);
        clock.Advance(TimeSpan.FromSeconds(13));
        Assert.False(resumed.IsUsedUp); // 63 s is within 5% of 60
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(resumed.IsUsedUp);
        Train(resumed, clock, 1);
        Assert.Null(resumed.Refit(44, 100)); // a resumed run keeps the schedule it fixed
    }

    [Fact]
    public void FixedStepRunsHaveAClockButNoBudget()
    {
        var clock = new ManualClock();
        var options = new TrainingOptions { DataPath = "d", RunDirectory = "r", MaxSteps = 10, Minutes = 3 };
        Assert.Null(TimeBudget.SecondsFor(options));
        Assert.Equal(180, TimeBudget.SecondsFor(options with { MaxSteps = null }));
        Assert.Equal(TrainingOptions.DefaultMinutes * 60, TimeBudget.SecondsFor(options with { MaxSteps = null, Minutes = null }));

        var budget = new TimeBudget(null, 0, false, 7, Cost, clock);
        for (int step = 1; step <= 5; step++) Train(budget, clock, 100);
        Assert.Null(budget.Refit(4, 10));
        Assert.False(budget.IsUsedUp);
        Assert.Equal(507, budget.ElapsedSeconds);
    }

    [Fact]
    public void TimeLeftIsWhatRemainsOfTheBudgetWhateverTheSpeed()
    {
        var clock = new ManualClock();
        var resumed = new TimeBudget(60, startStep: 10, scheduleFixed: true, elapsedBefore: 20, Cost, clock);
        Assert.Equal(40, resumed.SecondsLeft);
        Train(resumed, clock, 5);
        Assert.Equal(35, resumed.SecondsLeft);
        clock.Advance(TimeSpan.FromSeconds(10)); // an evaluation: not training speed, but the budget's time all the same
        Assert.Equal(25, resumed.SecondsLeft);
        clock.Advance(TimeSpan.FromSeconds(40));
        Assert.Equal(0, resumed.SecondsLeft);
        Assert.Null(new TimeBudget(null, 0, false, 0, Cost, clock).SecondsLeft);
    }

    [Fact]
    public void StepsForAMeasuredSpeed()
    {
        // 1,000 tokens/s for 5 minutes is 300,000 tokens; a step of 8 windows of 64 tokens reads 512.
        Assert.Equal(585, TimeBudget.StepsFor(1000, 5, 8, 64));
        Assert.Equal(0, TimeBudget.StepsFor(0, 5, 8, 64));
    }
}
