using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Export.Quantization;

/// <summary>
/// Judges a quantised export against the fp32 training model on the same tokens: the loss of each (teacher-forced,
/// mean nats per predicted token), how often both pick the same most likely next token, the mean absolute logit
/// difference, and greedy continuations through the quantised model's KV cache. An export whose loss rises by more
/// than <see cref="DefaultMaxLossIncreasePercent"/> fails the check.
/// </summary>
public static class QuantizationQuality
{
    public const string ValidationText = "validation data of the training run";
    public const string SampledText = "text sampled from the fp32 model (no validation data)";

    /// <summary>
    /// The largest relative loss increase an export may show: 1% for int8 (stories260K, a real 260K-parameter model,
    /// loses 0.1%) and 5% for int4. Measured on stories260K (text it samples itself, blocks of 32): int4 loses 10.6%
    /// (8.0% with the final projection kept fp32, 5.1% with that and blocks of 16), so its int4 export is flagged:
    /// its 64-wide layers are the hardest case for 4 bits; the target is 2% on a trained small model.
    /// </summary>
    public static double DefaultMaxLossIncreasePercent(WeightPrecision precision) => precision switch
    {
        WeightPrecision.Int8 => 1.0,
        WeightPrecision.Int4 => 5.0,
        _ => 0,
    };

    /// <summary>Up to <paramref name="count"/> evenly spread windows of <paramref name="length"/> tokens from a run's val.bin; empty if the file is too short.</summary>
    public static IReadOnlyList<long[]> ValidationWindows(string valBinPath, int vocabSize, int length, int count)
    {
        using var bin = TokenBin.Open(valBinPath, vocabSize);
        if (bin.Count < length + 1) return [];
        int windows = (int)Math.Min(count, bin.Count / length);
        long stride = (bin.Count - length) / Math.Max(1, windows - 1);
        var result = new List<long[]>();
        for (int i = 0; i < windows; i++)
        {
            var w = new long[length];
            bin.Read(Math.Min(i * stride, bin.Count - length), w);
            result.Add(w);
        }
        return result;
    }

    /// <summary><paramref name="count"/> texts of <paramref name="length"/> tokens sampled (temperature 1) from the fp32 model after the beginning-of-text id.</summary>
    public static IReadOnlyList<long[]> SampledFrom(LlamaForCausalLM model, int startId, int length, int count, long seed = 7)
    {
        var result = new List<long[]>();
        for (int i = 0; i < count; i++)
        {
            var ids = Generation.Sample(model, [startId], length - 1, temperature: 1, topK: 0, seed: seed + i);
            result.Add(new long[] { startId }.Concat(ids.Select(x => (long)x)).ToArray());
        }
        return result.Where(r => r.Length >= 2).ToList();
    }

    public static QuantizationReport Measure(LlamaForCausalLM reference, OnnxDecoder quantized, QuantizationOptions options, IReadOnlyList<long[]> sequences,
        string evaluationText, double? maxLossIncreasePercent = null, int greedyPrompts = 3, int greedyTokens = 24, CancellationToken ct = default)
    {
        if (sequences.Count == 0) throw new ArgumentException("The quality check needs at least one token sequence.", nameof(sequences));
        int vocab = reference.Config.VocabSize;
        double fp32Nats = 0, quantizedNats = 0, absDiff = 0;
        long predicted = 0, positions = 0, agreements = 0;
        reference.eval();
        var device = reference.parameters().First().device;
        foreach (var ids in sequences)
        {
            ct.ThrowIfCancellationRequested();
            int length = ids.Length;
            float[] expected;
            using (no_grad())
            using (NewDisposeScope())
                expected = reference.Forward(tensor(ids, [1, length], device: device), null).cpu().data<float>().ToArray();
            using var past = quantized.EmptyCache(1);
            using var output = quantized.Run(ids, Enumerable.Repeat(1L, length).ToArray(), Enumerable.Range(0, length).Select(p => (long)p).ToArray(), 1, length, past);
            for (int t = 0; t < length; t++)
            {
                var e = expected.AsSpan(t * vocab, vocab);
                var q = output.LogitsAt(0, t);
                for (int j = 0; j < vocab; j++) absDiff += Math.Abs(e[j] - q[j]);
                if (ArgMax(e) == ArgMax(q)) agreements++;
                positions++;
                if (t + 1 < length)
                {
                    var target = (int)ids[t + 1];
                    fp32Nats += LogSumExp(e) - e[target];
                    quantizedNats += LogSumExp(q) - q[target];
                    predicted++;
                }
            }
        }

        // Greedy continuations of the first tokens of a few sequences, the quantised side through its KV cache.
        int greedyTotal = 0, greedyIdentical = 0;
        foreach (var ids in sequences.Take(greedyPrompts))
        {
            ct.ThrowIfCancellationRequested();
            var prompt = ids.Take(Math.Min(4, ids.Length)).Select(i => (int)i).ToArray();
            int n = Math.Min(greedyTokens, reference.Config.MaxPositions - prompt.Length);
            if (n <= 0) continue;
            var fp32 = Generation.Greedy(reference, prompt, n);
            var q = OnnxParity.OnnxGreedy(quantized, prompt, fp32.Length);
            int same = 0;
            while (same < fp32.Length && fp32[same] == q[same]) same++;
            greedyTotal += fp32.Length;
            greedyIdentical += same;
        }

        double fp32Loss = fp32Nats / predicted, quantizedLoss = quantizedNats / predicted;
        double increase = (quantizedLoss - fp32Loss) / fp32Loss * 100;
        double limit = maxLossIncreasePercent ?? DefaultMaxLossIncreasePercent(options.Precision);
        return new QuantizationReport(options.Precision.Name(), "com.microsoft.MatMulNBits", options.Precision.Bits(), options.BlockSize, options.AccuracyLevel,
            options.QuantizeLmHead, evaluationText, predicted, fp32Loss, quantizedLoss, increase, limit,
            (double)agreements / positions, absDiff / ((double)positions * vocab), greedyTotal, greedyIdentical,
            double.IsFinite(increase) && increase <= limit);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int j = 1; j < values.Length; j++) if (values[j] > values[best]) best = j;
        return best;
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
