using SlmStudio.Core.Models;

namespace SlmStudio.Core.Training;

/// <summary>
/// The peak memory of a CPU training run (full fine-tuning, or LoRA when a <see cref="LoraConfig"/> is given),
/// estimated from the model's shape before anything is allocated, so that the portal can show it and refuse a run that
/// cannot fit. Everything is float32 (4 bytes), as the engine trains:
/// <list type="bullet">
/// <item>weights: every parameter once (frozen or not);</item>
/// <item>trained parameters: a gradient and AdamW's two moments each, 12 bytes (with LoRA only the adapters' r·(in+out)
/// per targeted module; the frozen base has neither);</item>
/// <item>activations autograd keeps for the backward pass, per token: per layer two norms (input, squares, scale,
/// output: 4·hidden each), q/k/v projections, their rotary copies and the key/value heads repeated for grouped-query
/// attention, the attention scores and softmax (2·heads·context: the CPU kernel materialises them), attention output
/// before and after o_proj and the residual, the MLP's gate, up, activation and product (4·intermediate) and its
/// output; with LoRA each adapter's rank-sized middle and, when dropout is on, its dropped-out copy of the input and
/// the mask (a byte per value: a quarter of a float) — without dropout A reads the input the frozen layer keeps anyway;
/// then logits, their log-softmax
/// and gradient (3·vocab) — one extra layer's worth stands for the backward pass's transient gradients;</item>
/// <item>the runtime: .NET and libtorch loaded, <see cref="RuntimeBytes"/>: `slm bench lora` on the 12,000-parameter
/// tiny-llama fixture (whose weights and activations are a few megabytes) peaks at 181 MB resident on Linux x64.</item>
/// </list>
/// `slm bench lora` prints this estimate beside the measured peak resident memory of a real run.
/// </summary>
public sealed record FineTuneEstimate(long WeightBytes, long TrainableParameters, long GradientAndOptimizerBytes, long ActivationBytes)
{
    public const long RuntimeBytes = 200L << 20;
    private const int Float = 4;

    public long PeakBytes => WeightBytes + GradientAndOptimizerBytes + ActivationBytes + RuntimeBytes;

    /// <summary>Training FLOPs per token: 6N for full training; with LoRA the frozen weights need no weight gradients (4N) and the adapters their usual 6 per parameter.</summary>
    public double FlopsPerToken(LlamaConfig config, bool lora) => lora ? 4.0 * config.ParameterCount + 6.0 * TrainableParameters : 6.0 * config.ParameterCount;

    public static FineTuneEstimate For(LlamaConfig config, LoraConfig? lora, int batchSize, int contextLength)
    {
        long d = config.HiddenSize, q = (long)config.NumHeads * config.HeadDim, kv = (long)config.NumKvHeads * config.HeadDim;
        long ff = config.IntermediateSize, heads = config.NumHeads, v = config.VocabSize;
        var modules = lora is null ? [] : AdaptedModules(config, lora);
        var trainable = lora is null ? config.ParameterCount : modules.Sum(m => (long)lora.Rank * (m.In + m.Out));

        var attention = (q + 2 * kv) + 2 * (q + kv) + 2 * q + 2 * heads * contextLength + 2 * q + 2 * d;
        var mlp = 4 * ff + d;
        var dropoutCopy = lora is { Dropout: > 0 } ? 1.25 : 0;
        var adapters = (long)modules.Sum(m => dropoutCopy * m.In + lora!.Rank) / Math.Max(1, config.NumLayers);
        var perLayer = 8 * d + attention + mlp + adapters;
        var perToken = (config.NumLayers + 1) * perLayer + 3 * v + 4 * d;
        return new FineTuneEstimate(
            WeightBytes: config.ParameterCount * Float,
            TrainableParameters: trainable,
            GradientAndOptimizerBytes: trainable * 3 * Float,
            ActivationBytes: (long)batchSize * contextLength * perToken * Float);
    }

    /// <summary>Input and output sizes of every checkpoint module LoRA would adapt (fused modules as one), without building the model.</summary>
    private static List<(long In, long Out)> AdaptedModules(LlamaConfig config, LoraConfig lora)
    {
        var targets = lora.TargetsFor(config.Family).ToHashSet(StringComparer.Ordinal);
        return CheckpointLayout.Plan(config, CheckpointLayout.ModelParameters(config))
            .Where(t => t.Shape.Length == 2 && t.TensorName.EndsWith(".weight", StringComparison.Ordinal) && t.TensorName.Contains(".layers.", StringComparison.Ordinal))
            .Where(t => targets.Contains(t.TensorName[..^".weight".Length].Split('.')[^1]))
            .Select(t => (t.Shape[1], t.Shape[0]))
            .ToList();
    }
}
