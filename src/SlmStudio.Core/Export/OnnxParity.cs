using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Export;

/// <summary>
/// Holds the exported graph to the training model: ONNX Runtime logits against TorchSharp logits (fp32, max abs diff)
/// for a full prompt and for step-by-step decoding through each side's own KV cache, plus greedy continuations.
/// </summary>
public static class OnnxParity
{
    public const double Tolerance = 1e-4;

    /// <summary>(batch, prompt length, decode steps) checked at export; prompt lengths are clipped to the context.</summary>
    public static readonly IReadOnlyList<(int Batch, int PromptLength, int Steps)> DefaultCases = [(1, 1, 6), (1, 17, 6), (2, 32, 6)];

    public static ParityReport Check(LlamaForCausalLM model, OnnxDecoder decoder, IEnumerable<(int Batch, int PromptLength, int Steps)>? cases = null, int seed = 1234, CancellationToken ct = default)
    {
        var config = model.Config;
        var rng = new Random(seed);
        var results = new List<ParityCase>();
        foreach (var (batch, requested, steps) in cases ?? DefaultCases)
        {
            ct.ThrowIfCancellationRequested();
            int promptLength = Math.Max(1, Math.Min(requested, config.MaxPositions - steps));
            int total = promptLength + steps;
            var ids = new long[batch * total];
            for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(config.VocabSize);
            var (prefill, decode) = Compare(model, decoder, ids, batch, promptLength, steps);
            results.Add(new ParityCase(batch, promptLength, steps, prefill, decode));
        }

        // Greedy continuation of one prompt on both sides, ids must agree exactly.
        var prompt = Enumerable.Range(0, Math.Min(8, config.MaxPositions / 2)).Select(_ => rng.Next(config.VocabSize)).ToArray();
        var torchGreedy = Generation.Greedy(model, prompt, Math.Min(8, config.MaxPositions - prompt.Length));
        var onnxGreedy = OnnxGreedy(decoder, prompt, torchGreedy.Length);
        var prefillMax = results.Max(r => r.PrefillMaxAbsDiff);
        var decodeMax = results.Max(r => r.DecodeMaxAbsDiff);
        return new ParityReport("TorchSharp LlamaForCausalLM (fp32, CPU)", Tolerance, prefillMax, decodeMax,
            torchGreedy.SequenceEqual(onnxGreedy), prefillMax <= Tolerance && decodeMax <= Tolerance, results);
    }

    /// <summary>Max abs logit difference for the prompt (first <paramref name="promptLength"/> ids of each row) and the following steps one at a time.</summary>
    public static (double Prefill, double Decode) Compare(LlamaForCausalLM model, OnnxDecoder decoder, long[] ids, int batch, int promptLength, int steps)
    {
        int total = promptLength + steps, vocab = model.Config.VocabSize;
        long[] Column(int from, int count)
        {
            var r = new long[batch * count];
            for (int b = 0; b < batch; b++) Array.Copy(ids, b * total + from, r, b * count, count);
            return r;
        }
        long[] Positions(int from, int count) => Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(from, count).Select(p => (long)p)).ToArray();

        double prefillDiff = 0, decodeDiff = 0;
        using var _ = no_grad();
        model.eval();
        var device = model.parameters().First().device;
        using var torchCache = new KvCache(model.Config.NumLayers);
        var onnxCache = decoder.EmptyCache(batch);
        try
        {
            for (int step = 0; step <= steps; step++)
            {
                int from = step == 0 ? 0 : promptLength + step - 1, count = step == 0 ? promptLength : 1;
                var chunk = Column(from, count);
                float[] expected;
                using (var scope = NewDisposeScope())
                    expected = model.Forward(tensor(chunk, [batch, count], device: device), torchCache).cpu().data<float>().ToArray();
                using var output = decoder.Run(chunk, Enumerable.Repeat(1L, batch * (from + count)).ToArray(), Positions(from, count), batch, count, onnxCache);
                var actual = output.Logits;
                double diff = 0;
                for (int i = 0; i < expected.Length; i++) diff = Math.Max(diff, Math.Abs(expected[i] - actual[i]));
                if (double.IsNaN(diff) || actual.Length != expected.Length || expected.Length != batch * count * vocab) diff = double.PositiveInfinity;
                if (step == 0) prefillDiff = diff; else decodeDiff = Math.Max(decodeDiff, diff);
                onnxCache.Dispose();
                onnxCache = output.TakeCache();
            }
        }
        finally
        {
            onnxCache.Dispose();
        }
        return (prefillDiff, decodeDiff);
    }

    /// <summary>Plain greedy decoding through ONNX Runtime with the KV cache (batch 1), independent of the sampler.</summary>
    public static int[] OnnxGreedy(OnnxDecoder decoder, IReadOnlyList<int> prompt, int maxNewTokens)
    {
        var result = new List<int>();
        var cache = decoder.EmptyCache(1);
        try
        {
            long[] next = prompt.Select(i => (long)i).ToArray();
            int length = 0;
            while (result.Count < maxNewTokens)
            {
                using var output = decoder.Run(next, Enumerable.Repeat(1L, length + next.Length).ToArray(),
                    Enumerable.Range(length, next.Length).Select(p => (long)p).ToArray(), 1, next.Length, cache);
                var logits = output.LogitsAt(0, next.Length - 1);
                int best = 0;
                for (int j = 1; j < logits.Length; j++) if (logits[j] > logits[best]) best = j;
                result.Add(best);
                length += next.Length;
                cache.Dispose();
                cache = output.TakeCache();
                next = [best];
            }
        }
        finally
        {
            cache.Dispose();
        }
        return result.ToArray();
    }
}
