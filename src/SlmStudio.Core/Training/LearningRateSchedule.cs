namespace SlmStudio.Core.Training;

/// <summary>
/// Linear warmup to the peak, then a fall to a floor (a fraction of the peak): a cosine over all the steps after warmup
/// or, with <paramref name="DecayFraction"/>, the peak held and a straight fall over that last share of them
/// ("warmup, stable, decay"). Runs from scratch hold the peak (<see cref="FromScratchDecayFraction"/>).
/// </summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, double MinFraction, double? DecayFraction = null)
{
    /// <summary>
    /// 1,300 tiny-preset steps on 1 MB of the Jargon File (weight decay 1, dropout 0.1, weight averaging) reached 1.9631
    /// bits per character with the cosine, 1.9535 falling over the last 20%, <b>1.9478 over the last 30%</b>, 1.9457
    /// over 40% and 1.9463 with a 1 - sqrt fall over 30%; on 1 MB of <c>fortunes</c> 2.1358 with the cosine and 2.1268
    /// over 30%. A higher peak instead (0.004 for the tiny preset's 0.003) reached 1.9522 with the cosine and 1.9551
    /// over 30%: the held peak gives what a higher rate gave, not more. Holding the peak also keeps the schedule's shape
    /// when a time budget's speed measurements change the step count: only where the fall starts moves, and the last
    /// measurement is made before it (<see cref="TimeBudget.RefitAt"/>), which 40% would not leave room for.
    /// </summary>
    public const double FromScratchDecayFraction = 0.3;

    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var min = Peak * MinFraction;
        var afterWarmup = Math.Max(1, TotalSteps - WarmupSteps);
        if (DecayFraction is { } share)
        {
            var decaySteps = Math.Max(1, share * afterWarmup);
            var fallen = Math.Clamp((step - (TotalSteps - decaySteps)) / decaySteps, 0, 1);
            return Peak - fallen * (Peak - min);
        }
        var progress = Math.Clamp((double)(step - WarmupSteps) / afterWarmup, 0, 1);
        return min + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (Peak - min);
    }
}
