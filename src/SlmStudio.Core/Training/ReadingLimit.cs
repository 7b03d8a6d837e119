namespace SlmStudio.Core.Training;

/// <summary>
/// How many steps a run from scratch with a time budget plans on a small text. Repeated text is worth less with each
/// reading (Muennighoff et al., 2023: a repeated token's value decays as e^(-R/R*_D), R*_D = 15.4 readings), and past
/// a point it makes the model worse: on a 100 KB text the default 5-minute tiny run did 814 steps (77 readings), was
/// best at step 100 (2.624 bits per character) and then learned the text by heart (4.335 at the end), while a 300-step
/// schedule (34 readings) with dropout 0.2 reached 2.512, and the same run with the limit 2.553. On 1 MB, with the
/// dropout <see cref="RepetitionDropout"/> gives each, 1,000 steps (12.3 readings) reached 2.186, 1,298 (16) 2.181 and
/// 2,000 (24.7, dropout 0.2) 2.153, so the limit was 24 readings. With the stronger weight decay, the held peak learning
/// rate and the dropout of <see cref="RepetitionDropout"/> more readings pay again: on 1 MB 2,400 steps (29.6
/// readings) reached 2.0938 against 2.1001 at 24.7, on 300 KB 854 steps (30) 2.3933 against 2.4165 at 24.6; past
/// that, 1,139 steps (40) on 300 KB with dropout 0.1 were best at 21 readings and fell away after. So the limit is 30
/// readings. The limit ends such a run early, which also gives the user the model minutes sooner. A schedule of fewer than
/// <see cref="PresetSelector.MinimumSteps"/> steps learns too little whatever the text (150 steps on the 100 KB text:
/// 2.674), so that is the floor.
/// </summary>
public static class ReadingLimit
{
    /// <summary>A time-budgeted run plans at most this many readings of its training text (above the step floor).</summary>
    public const double MaxPasses = 30;

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
