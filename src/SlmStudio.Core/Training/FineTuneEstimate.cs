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
/// `slm bench lora` prints this estimate beside the measured peak resident memory of a real run. The tensors listed
/// above are not all a run holds: `slm bench lora` (LoRA rank 8, batch 4, context 256) peaked at 8.0 GB for
/// SmolLM2-135M against 5.0 GB listed, and at 15.3 GB for Qwen2.5-0.5B against 9.9 GB (1.60x and 1.55x; libtorch's
/// allocator keeps freed blocks and the backward pass makes transient copies the list leaves out), so
/// <see cref="PeakBytes"/> scales the listed tensors by <see cref="MeasuredOverListed"/>, the larger ratio: a refusal
/// errs on the side of not starting a run that the machine would kill.
/// </summary>
public sealed record FineTuneEstimate(long WeightBytes, long TrainableParameters, long GradientAndOptimizerBytes, long ActivationBytes)
{
    public const long RuntimeBytes = 200L << 20;
    private const int Float = 4;

    /// <summary>Measured peak resident memory over the tensors listed (see the type's remarks).</summary>
    public const double MeasuredOverListed = 1.6;

    /// <summary>The batch size and longest context of a base model's training run (RunPreparation: 8 sequences of at most 256 tokens).</summary>
    public const int BaseModelRunBatchSize = 8;
    public const int BaseModelRunContext = 256;

    /// <summary>The tensors listed above plus the runtime, before calibration.</summary>
    public long ListedBytes => WeightBytes + GradientAndOptimizerBytes + ActivationBytes + RuntimeBytes;

    /// <summary>The expected peak resident memory of the run.</summary>
    public long PeakBytes => (long)((WeightBytes + GradientAndOptimizerBytes + ActivationBytes) * MeasuredOverListed) + RuntimeBytes;

    /// <summary>The estimate for a base model's training run as the engine sets it up (<see cref="BaseModelRunBatchSize"/>, <see cref="BaseModelRunContext"/>).</summary>
    public static FineTuneEstimate ForBaseModelRun(LlamaConfig config, bool lora) =>
        For(config, lora ? new LoraConfig() : null, BaseModelRunBatchSize, Math.Min(config.MaxPositions, BaseModelRunContext));

    /// <summary>
    /// Null when the run fits in <paramref name="availableBytes"/> (with a tenth kept for the system and the portal);
    /// otherwise why not and what to do, in words.
    /// </summary>
    public string? RefusalFor(string modelName, bool lora, long availableBytes, FineTuneEstimate? withLora = null)
    {
        var usable = (long)(availableBytes * 0.9);
        if (PeakBytes <= usable) return null;
        var options = new List<string> { "choose a smaller base model" };
        if (!lora) options.Add(withLora is { } a && a.PeakBytes <= usable
            ? $"switch on adapters (LoRA), which needs about {Gigabytes(a.PeakBytes)}"
            : "switch on adapters (LoRA)");
        options.Add("or train on shorter texts (a shorter context) on a server with more memory");
        return $"Fine-tuning {modelName} {(lora ? "with adapters (LoRA)" : "in full")} needs about {Gigabytes(PeakBytes)} of memory, "
             + $"but this server has {Gigabytes(availableBytes)} for it, so the run would be stopped part-way. To train: {string.Join(", ", options)}.";
    }

    public static string Gigabytes(long bytes) => bytes >= 10L << 30
        ? $"{bytes / (double)(1L << 30):0} GB"
        : $"{bytes / (double)(1L << 30):0.0} GB";

    /// <summary>Memory this process may use: the container's limit when there is one, else the machine's.</summary>
    public static long AvailableMemoryBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

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
