using SlmStudio.Core.Training;

namespace SlmStudio.Core.Verdicts;

/// <summary>A recommended training time for the amount of text and the chosen model size, from the speed measured on
/// this server, with warnings a newcomer needs before starting.</summary>
/// <param name="RecommendedMinutes">Enough time to read the text about <see cref="TrainingAdvice.RecommendedPasses"/> times.</param>
/// <param name="MinimumMinutes">Below this the model cannot learn anything worth measuring.</param>
public sealed record TrainingAdvice(int RecommendedMinutes, int MinimumMinutes, bool TooLittleText, string Summary, string? Warning)
{
    /// <summary>Below about a million characters (a few hundred pages) a model trained from scratch learns spelling and
    /// style at best; a 100 KB handbook is far below it.</summary>
    public const long TooLittleTextFromScratch = 1_000_000;

    /// <summary>Past this many readings of a small text a model from scratch starts to learn it by heart, and a run with
    /// a time budget stops there by itself (<see cref="ReadingLimit"/>).</summary>
    public const int RecommendedPasses = (int)ReadingLimit.MaxPasses;

    /// <summary>Even a tiny model needs a few hundred thousand tokens of training to get past random output.</summary>
    public const long MinimumUsefulTokens = 300_000;

    public const int MaxRecommendedMinutes = 240;

    public const int MinimumMinutesFloor = 2;

    /// <param name="tokensPerStep">The chosen size's tokens per training step (batch x context), when known: a run from
    /// scratch never plans fewer than <see cref="PresetSelector.MinimumSteps"/> of them before it stops by itself.</param>
    public static TrainingAdvice For(long characters, long tokens, double tokensPerSecond, int chosenMinutes, bool fromBaseModel = false, long tokensPerStep = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokensPerSecond);
        var tooLittle = !fromBaseModel && characters < TooLittleTextFromScratch;
        // From scratch the recommendation is where the run stops by itself, so that "Use N minutes" gives all it can.
        long? stopsAtTokens = fromBaseModel ? null : ReadingLimit.Steps(tokensPerStep, tokens) * tokensPerStep;
        var recommendedTokens = Math.Max(stopsAtTokens ?? RecommendedPasses * tokens, MinimumUsefulTokens);
        var minimumTokens = Math.Max(3 * tokens, MinimumUsefulTokens / 2);
        var recommended = (int)Math.Clamp(Math.Ceiling(recommendedTokens / tokensPerSecond / 60), 2, MaxRecommendedMinutes);
        // Never under two minutes, however fast the server: learning-rate warm-up and the first evaluation take most
        // of the first minute, so a one-minute run ends before the model has learned anything.
        var minimum = (int)Math.Clamp(Math.Ceiling(minimumTokens / tokensPerSecond / 60), MinimumMinutesFloor, recommended);

        var passes = tokens > 0 ? chosenMinutes * 60 * tokensPerSecond / tokens : 0;
        var recommendedPasses = recommendedTokens / (double)Math.Max(1, tokens);
        var summary = $"Recommended: about {recommended} minutes for your {ModelVerdict.Describe(characters)} at the speed measured on this server "
                    + $"(enough to read your text about {recommendedPasses:N0} times).";
        string? warning = null;
        if (chosenMinutes < minimum)
            // For short text the floor of useful training binds, not the number of passes: say which, so the numbers agree.
            warning = minimumTokens > 3 * tokens
                ? $"{Minutes(chosenMinutes)} too short to learn anything: the model would read your text only {passes:N0} times, and even a tiny model needs about {minimumTokens / 1000:N0} thousand word pieces of training (about {minimumTokens / (double)Math.Max(1, tokens):N0} readings of text this short) to get past random output. Choose at least {minimum} minutes."
                : $"{Minutes(chosenMinutes)} too short to learn anything: the model would read your text only {passes:0.#} times. Choose at least {minimum} minutes.";
        else if (chosenMinutes < recommended)
            warning = $"{chosenMinutes} minutes will give a rough first result; {recommended} minutes are recommended.";
        else if (stopsAtTokens is { } stops && chosenMinutes > recommended && chosenMinutes * 60 * tokensPerSecond > 1.2 * stops)
            // For very short text the least training that learns anything binds, not the readings: say which.
            warning = (stops > RecommendedPasses * tokens
                          ? $"Your text is so short that the least training that learns anything reads it about {recommendedPasses:N0} times, and more would only teach the model to recite it"
                          : $"A model from scratch learns your text by heart when it reads it more than {RecommendedPasses} times")
                      + $", so training will stop by itself after about {recommended} of your {chosenMinutes} minutes: more time would not make a better model, more documents would.";
        return new(recommended, minimum, tooLittle, summary, warning);
    }

    private static string Minutes(int minutes) => minutes == 1 ? "1 minute is" : $"{minutes} minutes are";

    /// <summary>A tokenizer vocabulary that suits the amount of text: small text cannot fill a large vocabulary (rare
    /// word pieces are never learned), and large text compresses better with more pieces.</summary>
    public static int VocabularyFor(long characters) => characters switch
    {
        < 300_000 => 1024,
        < 3_000_000 => 2048,
        < 30_000_000 => 4096,
        _ => 8192,
    };

    /// <summary>Why the text is too little, and what to do instead; null when it is enough.</summary>
    public string? TooLittleTextAdvice(long characters) => !TooLittleText ? null
        : $"{ModelVerdict.Describe(characters)} is too little text to teach a model from scratch: it will imitate the look of your text at best, not answer from it. "
        + "For useful answers, start from a base model from the library, or ask your documents directly (the \"Answer questions\" use case).";
}
