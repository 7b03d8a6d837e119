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

    /// <summary>Small models keep improving for a few dozen passes over small data before they start memorising it.</summary>
    public const int RecommendedPasses = 20;

    /// <summary>Even a tiny model needs a few hundred thousand tokens of training to get past random output.</summary>
    public const long MinimumUsefulTokens = 300_000;

    public const int MaxRecommendedMinutes = 240;

    public const int MinimumMinutesFloor = 2;

    public static TrainingAdvice For(long characters, long tokens, double tokensPerSecond, int chosenMinutes, bool fromBaseModel = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokensPerSecond);
        var tooLittle = !fromBaseModel && characters < TooLittleTextFromScratch;
        var recommendedTokens = Math.Max(RecommendedPasses * tokens, MinimumUsefulTokens);
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
