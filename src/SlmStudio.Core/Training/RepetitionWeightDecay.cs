namespace SlmStudio.Core.Training;

/// <summary>
/// Weight decay for a run from scratch that reads its training text many times: beside <see cref="RepetitionDropout"/>,
/// a stronger pull of the weights toward zero keeps a small model from fitting its text by heart. 1,300 tiny-preset
/// steps on 1 MB of the Jargon File (16 readings, dropout 0.1, weight averaging) reached 2.0073 bits per character with
/// weight decay 0.1, 1.9994 with 0.3, 1.9682 with 0.6, <b>1.9631 with 1.0</b> and 2.009 with 2.0; on 1 MB of
/// <c>fortunes</c> the same steps reached 2.1783 with 0.1 and 2.1358 with 1.0. At 12.3 readings (1,000 steps on the
/// Jargon File) 2.0312 with 0.1 and 2.0178 with 1.0, at 7.4 (600 steps, no dropout) 2.1542 and 2.1484; at 34 (300
/// steps on 100 KB of <c>fortunes</c>, dropout 0.2) 2.5207 and 2.5108 (2.5523 and 2.5141 at the end: it also holds
/// off learning the text by heart). With few readings it costs: 300 steps on the Jargon File (3.7 readings) reached
/// 2.5276 with 0.1 and 2.5462 with 1.0. So the strong decay starts at <see cref="ManyPasses"/>, before dropout does.
/// Fine-tuning and language phases keep <see cref="Default"/>: not measured there.
/// </summary>
public static class RepetitionWeightDecay
{
    /// <summary>AdamW's decoupled weight decay for runs that read their text fewer times, and for fine-tuning.</summary>
    public const double Default = 0.1;
    /// <summary>From <see cref="ManyPasses"/> planned readings on.</summary>
    public const double High = 1.0;
    /// <summary>Between the 3.7 readings measured worse with <see cref="High"/> and the 7.4 measured better.</summary>
    public const double ManyPasses = 7;

    public static double For(double passes) => passes >= ManyPasses ? High : Default;

    /// <summary>What the run is told when the strong decay is switched on.</summary>
    public static string Explain(double rate) =>
        $"Its training keeps its weights small (weight decay {rate:0.##} instead of {Default:0.##}), which measurably helps a small model that reads the same text many times.";
}
