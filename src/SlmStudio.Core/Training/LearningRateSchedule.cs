namespace SlmStudio.Core.Training;

/// <summary>Linear warmup to the peak, then cosine decay to a floor (a fraction of the peak).</summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, double MinFraction)
{
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        var min = Peak * MinFraction;
        return min + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (Peak - min);
    }
}
