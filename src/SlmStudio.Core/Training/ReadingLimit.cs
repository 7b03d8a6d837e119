namespace SlmStudio.Core.Training;

/// <summary>
/// How many steps a run from scratch with a time budget plans on a small text. Repeated text is worth less with each
/// reading (Muennighoff et al., 2023: a repeated token's value decays as e^(-R/R*_D), R*_D = 15.4 readings), and past
/// a point it makes the model worse: on a 100 KB text the default 5-minute tiny run did 814 steps (77 readings), was
/// best at step 100 (2.624 bits per character) and then learned the text by heart (4.335 at the end), while a 300-step
/// schedule (34 readings) with dropout 0.2 reached 2.512, and the same run with the limit 2.553. On 1 MB, with the
/// dropout <see cref="RepetitionDropout"/> gives each, 1,000 steps (12.3 readings) reached 2.186, 1,298 (16) 2.181 and
/// 2,000 (24.7, dropout 0.2) 2.153, so the limit is 24 readings: beyond it nothing is measured. The limit ends such a
/// run early, which also gives the user the model minutes sooner. A schedule of fewer than
/// <see cref="PresetSelector.MinimumSteps"/> steps learns too little whatever the text (150 steps on the 100 KB text:
/// 2.674), so that is the floor.
/// </summary>
public static class ReadingLimit
{
    /// <summary>A time-budgeted run plans at most this many readings of its training text (above the step floor).</summary>
    public const double MaxPasses = 24;

    /// <summary>The most steps a time budget may plan for this much training text.</summary>
    public static int Steps(long tokensPerStep, long trainTokens) =>
        (int)Math.Clamp(Math.Ceiling(MaxPasses * trainTokens / Math.Max(1, tokensPerStep)), PresetSelector.MinimumSteps, int.MaxValue);

    /// <summary>How <see cref="Explain"/>'s message begins, so that the portal can find it among a run's messages.</summary>
    public const string MessageOpening = "The training text is too small for the whole time budget";

    /// <summary>What the run is told when its budget fits more steps than the limit.</summary>
    public static string Explain(int steps, double passes, long trainTokens, double budgetMinutes, double expectedMinutes) =>
        $"{MessageOpening} ({trainTokens:N0} tokens): {steps:N0} steps read it about {passes:N0} times, and more would teach the model " +
        $"to recite it rather than to write like it. The run stops after those steps, in about {Math.Max(1, Math.Ceiling(expectedMinutes)):N0} " +
        $"of its {budgetMinutes:0.#} minutes; more documents would make a longer run worthwhile.";
}
