namespace SlmStudio.Core.Training;

/// <summary>What an evaluation costs, in the terms the time budget measures: forward passes and sampled tokens.</summary>
public sealed record EvaluationCost(int ValidationBatches, int SampleTokens, int EvalEvery);

/// <summary>
/// A new step count that fits the budget, from the measured seconds per training step; <paramref name="Limited"/>: the
/// budget fits more, but the run's step limit (<see cref="ReadingLimit"/>) is where it ends.
/// </summary>
public sealed record BudgetFit(int MaxSteps, bool First, double SecondsPerStep, bool Limited = false);

/// <summary>
/// A run's clock and, when it has one, its time budget ("train for 15 minutes"). With a budget, measured speed fixes
/// the schedule so that it ends in time. It is measured over the first <see cref="ProbeSteps"/> steps, then again at
/// each of <see cref="RefitAt"/>: a machine busy with other work at the start would otherwise leave most of the budget
/// unused, and the first steps' speed (before the allocator and caches settle) and the guessed cost of evaluations left
/// 5-minute runs 7–12% short of their budget. The later measurements use the wall clock since the previous one, so
/// evaluations and checkpoints are counted as they really cost. A schedule that ends with a tenth of the budget or more
/// left is measured again and extended (its learning rate then rises again from the floor, which beats stopping), unless
/// it ends at the run's step limit (<see cref="ReadingLimit"/>: a small text read too often). The clock is a
/// <see cref="TimeProvider"/> so that tests decide how long a step takes.
/// </summary>
public sealed class TimeBudget
{
    public const int ProbeSteps = 4;
    /// <summary>A run stops itself once it is this far over its budget.</summary>
    public const double Overrun = 1.05;
    /// <summary>
    /// The fractions of the budget at which the step count is measured again; the last comes before a run from scratch
    /// starts its learning rate's fall (<see cref="LearningRateSchedule.FromScratchDecayFraction"/>), so that the fall
    /// is never reshaped.
    /// </summary>
    public static readonly double[] RefitAt = [0.1, 0.4, 0.6];
    /// <summary>A new measurement changes the step count only when it moves by more than this fraction.</summary>
    public const double RefitTolerance = 0.02;
    /// <summary>A schedule that ends with more than this fraction of the budget left is measured again and extended.</summary>
    public const double EndsEarlyFraction = 0.1;
    /// <summary>Seconds kept free for the final checkpoint and result.</summary>
    private const double ReserveSeconds = 2;

    private readonly TimeProvider _clock;
    private readonly long _started;
    private readonly double _elapsedBefore;
    private readonly int _startStep;
    private readonly EvaluationCost _evaluation;
    private readonly int? _stepLimit;
    private double _trainSeconds, _trainSecondsAtProbe, _sessionSecondsAtProbe;
    private int _stepAtProbe, _refits;
    private bool _scheduleFixed;

    /// <param name="seconds">The budget, or null when a fixed step count decides the run's length (then this is only its clock).</param>
    /// <param name="startStep">The step the run starts (or resumes) at.</param>
    /// <param name="scheduleFixed">A resumed run keeps the schedule it fixed before.</param>
    /// <param name="elapsedBefore">Seconds the run trained before it was resumed.</param>
    /// <param name="stepLimit">The most steps the budget may plan, however many fit (<see cref="ReadingLimit"/>); null: no limit.</param>
    public TimeBudget(double? seconds, int startStep, bool scheduleFixed, double elapsedBefore, EvaluationCost evaluation, TimeProvider clock, int? stepLimit = null)
    {
        Seconds = seconds;
        _startStep = startStep;
        _scheduleFixed = scheduleFixed;
        _stepAtProbe = startStep;
        _refits = scheduleFixed ? RefitAt.Length : 0;
        _elapsedBefore = elapsedBefore;
        _evaluation = evaluation;
        _clock = clock;
        _stepLimit = stepLimit;
        _started = clock.GetTimestamp();
    }

    /// <summary>The budget in seconds for these options, or null when a fixed step count decides the run's length.</summary>
    public static double? SecondsFor(TrainingOptions options) => options.MaxSteps is null ? (options.Minutes ?? TrainingOptions.DefaultMinutes) * 60 : null;

    /// <summary>Optimizer steps that fit in <paramref name="minutes"/> at a measured training speed (evaluations not counted).</summary>
    public static int StepsFor(double tokensPerSecond, double minutes, int batchSize, int contextLength) =>
        (int)(tokensPerSecond * 60 * minutes / ((double)batchSize * contextLength));

    public double? Seconds { get; }

    /// <summary>Seconds spent in training steps in this session: evaluations, checkpoints and samples left out.</summary>
    public double TrainSeconds => _trainSeconds;

    /// <summary>Seconds the run has taken, the time before a resume included.</summary>
    public double ElapsedSeconds => _elapsedBefore + SessionSeconds;

    private double SessionSeconds => _clock.GetElapsedTime(_started).TotalSeconds;

    /// <summary>
    /// With a budget, the time the run has left: what people read as "time left". It falls steadily with the clock
    /// instead of jumping with each speed measurement, and it includes evaluations, which a per-step estimate misses.
    /// </summary>
    public double? SecondsLeft => Seconds is { } budget ? Math.Max(0, budget - ElapsedSeconds) : null;

    /// <summary>True once a fixed schedule has run past the budget (a machine that slowed down mid-run).</summary>
    public bool IsUsedUp => Seconds is { } budget && _scheduleFixed && ElapsedSeconds > budget * Overrun;

    /// <summary>Runs one training step and counts its time (evaluations and checkpoints are not training speed).</summary>
    public void TimeStep(Action trainStep)
    {
        var start = _clock.GetTimestamp();
        trainStep();
        _trainSeconds += _clock.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>
    /// After <paramref name="step"/> has been trained: the step count that fits the rest of the budget, when this is
    /// the time to measure and the count moves by more than <see cref="RefitTolerance"/> (the first measurement always
    /// fixes it); else null.
    /// </summary>
    public BudgetFit? Refit(int step, int? maxSteps)
    {
        if (Seconds is not { } budget) return null;
        var first = !_scheduleFixed;
        // A schedule fixed while the machine was busy can end long before the budget (a 20-minute run whose first
        // steps shared the cores with a build fixed 34 steps and ended after 4.5 minutes): measure again then too.
        // A schedule that ends at the step limit ends early on purpose.
        var endsEarly = maxSteps is { } scheduled && step >= scheduled && scheduled < _stepLimit.GetValueOrDefault(int.MaxValue)
                        && budget - ElapsedSeconds > EndsEarlyFraction * budget;
        var planned = _refits < RefitAt.Length && SessionSeconds >= RefitAt[_refits] * budget;
        if (first ? step != _startStep + ProbeSteps : !planned && !endsEarly) return null;

        // The first two measurements see too few evaluations to time them, so their cost is estimated from a step's;
        // later ones take the wall clock per step since the previous measurement, evaluations included.
        var trainPerStep = first ? _trainSeconds / (step - _startStep) : (_trainSeconds - _trainSecondsAtProbe) / (step - _stepAtProbe);
        var evalSeconds = trainPerStep / 3 * _evaluation.ValidationBatches + 0.05 * _evaluation.SampleTokens;
        var perStep = first || _refits == 0 ? trainPerStep + evalSeconds / _evaluation.EvalEvery : (SessionSeconds - _sessionSecondsAtProbe) / (step - _stepAtProbe);
        var remaining = budget - ElapsedSeconds - evalSeconds - ReserveSeconds;
        var fitting = step + (int)(remaining / perStep);
        var limited = fitting > _stepLimit;
        var fitted = Math.Max(step + 1, limited ? _stepLimit!.Value : fitting);
        while (_refits < RefitAt.Length && SessionSeconds >= RefitAt[_refits] * budget) _refits++; // a slow step can pass two at once
        (_trainSecondsAtProbe, _sessionSecondsAtProbe, _stepAtProbe, _scheduleFixed) = (_trainSeconds, SessionSeconds, step, true);
        return first || Math.Abs(fitted - maxSteps!.Value) > RefitTolerance * maxSteps.Value ? new BudgetFit(fitted, first, trainPerStep, limited) : null;
    }
}
