namespace SlmStudio.Core.Training;

/// <summary>
/// Dropout for a run that reads its training text many times. A small model given a long budget on little text learns
/// the text by heart: 2,000 tiny-preset steps on 1 MB of prose (24 readings) were best at step 750 (2.270 bits per
/// character) and ended at 2.495 while the training loss kept falling; the default 10-minute run did the same. With
/// dropout 0.1 on the residual branches the same 2,000 steps kept improving to 2.206 (2.213 at the end), and 1,000
/// steps (12.3 readings) reached 2.186 against 2.218 without. Below that it is not measured with the same steps
/// (a 5-minute comparison by time, 11 readings, was confounded by the dropout run doing fewer steps), so it is used
/// from <see cref="ManyPasses"/> on. Further out a higher rate pays: 300 tiny steps on a 100 KB text (34 readings, the
/// <see cref="ReadingLimit"/> floor of a small text) reached 2.556 bits per character without dropout (then 2.793 at
/// the end), 2.544 with 0.1 and 2.512 with 0.2; at 23 readings (200 steps) the same text did better without (2.536
/// against 2.579 with 0.2), so <see cref="HighRate"/> starts at <see cref="VeryManyPasses"/>. On 1 MB, 2,000 steps
/// (24.7 readings) reached 2.153 with 0.2 against 2.206 with 0.1. With the stronger weight decay and the held peak
/// learning rate of later stops that reversed on 1 MB (0.41 training tokens per parameter): 1,947 steps (24.7
/// readings) reached 2.1001 with 0.1 against 2.1303 with 0.2, 2,400 steps (29.6) 2.0938 against 2.1163. On a smaller
/// text the higher rate still pays: on 300 KB (116,602 tokens for 684,928 parameters, 0.17 a parameter) 700 steps
/// (24.6 readings) reached 2.4165 with 0.2 against 2.4348 with 0.1, 854 steps (30) 2.3933 against 2.4317; on 100 KB
/// (0.05) 300 steps 2.4967 against 2.4939, and 2.5583 against 2.6353 at the end; on 500 KB (0.196) 1,174 steps (30)
/// 2.3387 against 2.3511. So <see cref="HighRate"/> is for a text that is small for its model: fewer than
/// <see cref="SmallTextTokensPerParameter"/> training tokens per parameter (between 0.196 and 0.41), read
/// <see cref="VeryManyPasses"/> times or more.
/// </summary>
public static class RepetitionDropout
{
    /// <summary>From this many planned readings of the training text on, the run trains with <see cref="Rate"/>.</summary>
    public const double ManyPasses = 12;
    public const double Rate = 0.1;
    /// <summary>From this many planned readings on, a run on a small text (<see cref="SmallTextTokensPerParameter"/>) trains with <see cref="HighRate"/>.</summary>
    public const double VeryManyPasses = 24;
    public const double HighRate = 0.2;
    /// <summary>Below this many training tokens per model parameter a text is small for its model.</summary>
    public const double SmallTextTokensPerParameter = 0.25;

    /// <summary>How many times a schedule of <paramref name="steps"/> reads the training text.</summary>
    public static double Passes(long steps, long tokensPerStep, long trainTokens) => (double)steps * tokensPerStep / Math.Max(1, trainTokens);

    public static double For(double passes, double trainTokensPerParameter) =>
        passes >= VeryManyPasses && trainTokensPerParameter < SmallTextTokensPerParameter ? HighRate : passes >= ManyPasses ? Rate : 0;

    /// <summary>What the run is told when dropout is switched on.</summary>
    public static string Explain(double passes, double rate) =>
        $"This run will read its training text about {passes:N0} times, often enough for the model to learn it by heart: " +
        $"it trains with dropout {rate:0.##} (part of each step's signal left out at random) so that it keeps learning what carries over to new text.";
}
