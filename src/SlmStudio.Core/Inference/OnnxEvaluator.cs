using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Inference;

/// <summary>Validation loss (mean nats per predicted token), perplexity and bits per character of a text.</summary>
public sealed record OnnxEvaluation(double Loss, double Perplexity, double BitsPerChar, long PredictedTokens, long Tokens, long Characters, int ContextLength, int Windows);

/// <summary>
/// Measures an exported model on text through ONNX Runtime, reading the text exactly as the trainer does
/// (<see cref="DocumentStream.Encode"/>: beginning-of-text, document, end-of-text; non-overlapping windows of the
/// context length), so the numbers equal the trainer's validation figures for the same data and weights.
/// Bits per character = mean nats per token / (ln 2 × characters per token), the trainer's definition.
/// </summary>
public sealed class OnnxEvaluator(OnnxArtifact artifact)
{
    /// <summary>Windows evaluated in one ONNX Runtime call.</summary>
    public int BatchSize { get; init; } = 8;

    public OnnxEvaluation Evaluate(IReadOnlyList<string> documents, int? contextLength = null, int maxWindows = int.MaxValue, CancellationToken ct = default)
    {
        var context = contextLength ?? artifact.Manifest.ContextLength ?? artifact.Config.MaxPositions;
        if (context < 1 || context > artifact.Config.MaxPositions)
            throw new EngineException($"The context length {context} is outside what the model supports (1 to {artifact.Config.MaxPositions}).");
        var ids = DocumentStream.Encode(artifact.Tokenizer, documents).ToArray();
        long characters = documents.Sum(d => (long)d.Length);
        if (ids.Length < 2) throw new EngineException("The text is too short to measure the model: it needs at least two tokens.");
        var windows = DocumentStream.Windows(ids.Length, context, maxWindows);

        double nats = 0;
        long predicted = 0;
        foreach (var group in windows.GroupBy(w => w.Length))
        {
            int length = group.Key;
            foreach (var chunk in group.Chunk(BatchSize))
            {
                ct.ThrowIfCancellationRequested();
                int batch = chunk.Length;
                var x = new long[batch * length];
                var positions = new long[batch * length];
                for (int b = 0; b < batch; b++)
                    for (int t = 0; t < length; t++)
                    {
                        x[b * length + t] = ids[chunk[b].Start + t];
                        positions[b * length + t] = t;
                    }
                using var past = artifact.Decoder.EmptyCache(batch);
                using var output = artifact.Decoder.Run(x, Enumerable.Repeat(1L, batch * length).ToArray(), positions, batch, length, past);
                for (int b = 0; b < batch; b++)
                    for (int t = 0; t < length; t++)
                    {
                        var logits = output.LogitsAt(b, t);
                        var target = ids[chunk[b].Start + t + 1];
                        nats += LogSumExp(logits) - logits[target];
                    }
                predicted += batch * length;
            }
        }
        var loss = nats / predicted;
        var bpc = DocumentStream.BitsPerCharacter(loss, (double)characters / ids.Length);
        return new OnnxEvaluation(loss, Math.Exp(loss), bpc, predicted, ids.Length, characters, context, windows.Count);
    }

    private static double LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (var l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return max + Math.Log(sum);
    }
}
