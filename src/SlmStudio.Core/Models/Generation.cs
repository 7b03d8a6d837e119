using static TorchSharp.torch;

namespace SlmStudio.Core.Models;

/// <summary>Eager TorchSharp generation with a KV cache: used for sample outputs during training and as the baseline of the ONNX benchmarks.</summary>
public static class Generation
{
    /// <summary>Greedy (temperature 0) or sampled continuation of <paramref name="prompt"/>; returns only the new ids.</summary>
    public static int[] Greedy(LlamaForCausalLM model, IReadOnlyList<int> prompt, int maxNewTokens, int? stopId = null) =>
        Sample(model, prompt, maxNewTokens, temperature: 0, topK: 0, seed: 0, stopId);

    /// <summary>
    /// Continuation of <paramref name="prompt"/> decoded as the playground decodes (<see cref="Inference.Sampler"/>:
    /// repetition penalty, temperature, top-k, top-p); returns only the new ids. Deterministic for a given seed.
    /// </summary>
    public static int[] Sample(LlamaForCausalLM model, IReadOnlyList<int> prompt, Inference.GenerationSettings settings, int? stopId = null)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token (e.g. beginning of text).", nameof(prompt));
        var wasTraining = model.training;
        model.eval();
        var random = new Random(settings.Seed ?? 0);
        var seen = new HashSet<int>(prompt);
        var result = new List<int>(settings.MaxNewTokens);
        var maxPositions = model.Config.MaxPositions;
        try
        {
            using var _ = no_grad();
            using var outer = NewDisposeScope();
            var device = model.parameters().First().device;
            using var cache = new KvCache(model.Config.NumLayers);
            var next = prompt.Skip(Math.Max(0, prompt.Count - maxPositions + 1)).Select(i => (long)i).ToArray();
            while (result.Count < settings.MaxNewTokens && cache.Length + next.Length <= maxPositions)
            {
                float[] logits;
                using (NewDisposeScope())
                    logits = model.Forward(tensor(next, [1, next.Length], device: device), cache)[0, -1].to(ScalarType.Float32).cpu().data<float>().ToArray();
                var (id, _) = Inference.Sampler.Choose(logits, seen, settings, random);
                result.Add(id);
                seen.Add(id);
                if (id == stopId) break;
                next = [id];
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return result.ToArray();
    }

    public static int[] Sample(LlamaForCausalLM model, IReadOnlyList<int> prompt, int maxNewTokens, double temperature, int topK, long seed, int? stopId = null)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token (e.g. beginning of text).", nameof(prompt));
        var wasTraining = model.training;
        model.eval();
        var device = model.parameters().First().device;
        var generator = new Generator((ulong)seed, device);
        var result = new List<int>(maxNewTokens);
        var maxPositions = model.Config.MaxPositions;
        try
        {
            using var _ = no_grad();
            using var cache = new KvCache(model.Config.NumLayers);
            var next = prompt.Skip(Math.Max(0, prompt.Count - maxPositions + 1)).Select(i => (long)i).ToArray();
            while (result.Count < maxNewTokens && cache.Length + next.Length <= maxPositions)
            {
                using var scope = NewDisposeScope();
                var logits = model.Forward(tensor(next, [1, next.Length], device: device), cache)[0, -1]; // (V)
                int id;
                if (temperature <= 0) id = (int)logits.argmax().item<long>();
                else
                {
                    logits = logits / temperature;
                    if (topK > 0 && topK < logits.shape[0])
                    {
                        var kth = logits.topk(topK).values[-1];
                        logits = logits.masked_fill(logits < kth, double.NegativeInfinity);
                    }
                    id = (int)multinomial(logits.softmax(-1), 1, generator: generator).item<long>();
                }
                result.Add(id);
                if (id == stopId) break;
                next = [id];
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return result.ToArray();
    }
}
