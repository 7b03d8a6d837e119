namespace SlmStudio.Core.Tokenization;

/// <summary>
/// How text is read to train and to measure a model, defined once so that the trainer (TorchSharp) and the evaluator
/// of exported models (ONNX Runtime) report the same numbers for the same data and weights.
/// </summary>
public static class DocumentStream
{
    /// <summary>
    /// Documents become one stream of ids: beginning-of-text, the document, end-of-text (where the tokenizer has them).
    /// Training, validation and <c>slm eval</c> all read text this way.
    /// </summary>
    public static IEnumerable<int> Encode(ITokenizer tokenizer, IEnumerable<string> documents)
    {
        foreach (var doc in documents)
        {
            if (tokenizer.BosId is { } bos) yield return bos;
            // Document text never turns into control tokens, even where it spells one out.
            foreach (var id in tokenizer.Encode(doc, addSpecialTokens: false, splitSpecialTokens: false)) yield return id;
            if (tokenizer.EosId is { } eos) yield return eos;
        }
    }

    /// <summary>
    /// Non-overlapping windows (start, length) over a stream of <paramref name="count"/> ids: window w predicts ids
    /// [start+1, start+length] from ids [start, start+length). At most <paramref name="maxWindows"/> windows, evenly
    /// spaced, when the stream is longer.
    /// </summary>
    public static IReadOnlyList<(long Start, int Length)> Windows(long count, int contextLength, int maxWindows)
    {
        var all = (count - 1 + contextLength - 1) / contextLength;
        var chosen = Math.Min(all, maxWindows);
        var result = new List<(long, int)>((int)chosen);
        for (long i = 0; i < chosen; i++)
        {
            var w = all <= maxWindows ? i : i * all / chosen;
            var start = w * contextLength;
            result.Add((start, (int)Math.Min(contextLength, count - 1 - start)));
        }
        return result;
    }

    /// <summary>Bits per character from a mean loss in nats per token and the text's characters per token.</summary>
    public static double BitsPerCharacter(double meanLossNats, double charactersPerToken) =>
        meanLossNats / (Math.Log(2) * charactersPerToken);
}
