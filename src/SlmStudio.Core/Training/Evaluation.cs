using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>Validation loss, perplexity and bits per character, defined once so that every engine reports the same numbers.</summary>
public static class Evaluation
{
    /// <summary>
    /// Documents become one stream of ids: beginning-of-text, the document, end-of-text (where the tokenizer has them).
    /// Training, validation and <c>slm eval</c> all read text this way.
    /// </summary>
    public static IEnumerable<int> EncodeDocuments(ITokenizer tokenizer, IEnumerable<string> documents)
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

    /// <summary>
    /// The simple baseline every model must beat: validation loss (nats per token) of a model that only knows how often
    /// each token occurs in the training text (add-one smoothed), with no context at all.
    /// </summary>
    public static double UnigramBaselineLoss(IReadOnlyList<int> trainIds, IReadOnlyList<int> validationIds, int vocabSize)
    {
        var counts = new long[vocabSize];
        foreach (var id in trainIds) counts[id]++;
        var total = (double)trainIds.Count + vocabSize;
        // Position 0 is never predicted (as in the windows above), so the baseline scores the same tokens as the model.
        var nats = validationIds.Skip(1).Sum(id => -Math.Log((counts[id] + 1) / total));
        return nats / Math.Max(1, validationIds.Count - 1);
    }

    /// <summary>Bits per character from a mean loss in nats per token and the text's characters per token.</summary>
    public static double BitsPerCharacter(double meanLossNats, double charactersPerToken) =>
        meanLossNats / (Math.Log(2) * charactersPerToken);

    /// <summary>Mean cross-entropy (nats per predicted token) of the model over the given windows.</summary>
    public static double MeanLoss(LlamaForCausalLM model, TokenBin tokens, IReadOnlyList<(long Start, int Length)> windows, int batchSize)
    {
        var wasTraining = model.training;
        model.eval();
        var device = model.parameters().First().device;
        double nats = 0;
        long predicted = 0;
        try
        {
            using var _ = no_grad();
            foreach (var group in windows.GroupBy(w => w.Length))
            {
                foreach (var chunk in group.Chunk(batchSize))
                {
                    using var scope = NewDisposeScope();
                    var length = group.Key;
                    var x = new long[chunk.Length * length];
                    var y = new long[chunk.Length * length];
                    var buffer = new long[length + 1];
                    for (int b = 0; b < chunk.Length; b++)
                    {
                        tokens.Read(chunk[b].Start, buffer);
                        buffer.AsSpan(0, length).CopyTo(x.AsSpan(b * length));
                        buffer.AsSpan(1, length).CopyTo(y.AsSpan(b * length));
                    }
                    var logits = model.forward(tensor(x, [chunk.Length, length], device: device));
                    var loss = F.cross_entropy(logits.view(-1, logits.shape[^1]), tensor(y, device: device), reduction: nn.Reduction.Sum);
                    nats += loss.item<float>();
                    predicted += x.Length;
                }
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return predicted == 0 ? double.NaN : nats / predicted;
    }
}
