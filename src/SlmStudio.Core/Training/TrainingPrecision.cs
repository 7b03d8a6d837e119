using SlmStudio.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>
/// The number format of a run's training steps. bfloat16 steps run on a copy of the model (<see cref="BFloat16Steps"/>)
/// while the float32 weights stay what the optimizer updates, evaluates, checkpoints and saves. On a CPU with bfloat16
/// instructions the steps are much faster: <c>slm bench train --bf16</c> on this project's 2-core AMD EPYC machine
/// measured the matrix multiply at 3.4x float32's speed and bare training steps at 2.4x (tiny) and 2.7x (small). On a
/// CPU without them bfloat16 is emulated and slower, so "auto" asks the processor (its flags in /proc/cpuinfo). It
/// does not time a matrix multiply: the one time it did, in the training process, the 60 tiny-preset steps after it
/// ran at 3,733 tokens/s instead of 10,792–15,413 (cause not found; the benchmark process does not show it).
/// </summary>
public static class TrainingPrecision
{
    public const string Auto = "auto", Float32 = "fp32", BFloat16 = "bf16";
    public static readonly IReadOnlyList<string> Names = [Auto, Float32, BFloat16];

    /// <summary>The name (as <c>--precision</c> takes it) of a step format that <see cref="Resolve"/> returned.</summary>
    public static string NameOf(ScalarType stepType) => stepType == ScalarType.BFloat16 ? BFloat16 : Float32;

    /// <summary>The processor flags (Linux's /proc/cpuinfo names) of bfloat16 arithmetic in hardware.</summary>
    public static readonly IReadOnlyList<string> HardwareFlags = ["avx512_bf16", "amx_bf16"];

    /// <summary>The format a run's steps use, and why (null when there is nothing worth saying: float32 as asked).</summary>
    /// <param name="fromScratch">Auto uses bfloat16 only for models trained from scratch: fine-tuning a base model keeps its float32 steps (and memory estimate).</param>
    public static (ScalarType Type, string? Reason) Resolve(string precision, Device device, bool fromScratch, bool lora)
    {
        var name = Names.FirstOrDefault(n => n.Equals(precision, StringComparison.OrdinalIgnoreCase))
                   ?? throw new EngineException($"Unknown precision '{precision}'. Use {string.Join(", ", Names)}.");
        if (name == Float32) return (ScalarType.Float32, null);
        if (lora) return (ScalarType.Float32, name == BFloat16 ? "LoRA adapters train in float32; bfloat16 was not used." : null);
        if (name == BFloat16) return (ScalarType.BFloat16, "Training steps run in bfloat16 (as asked), with float32 weights kept and saved.");
        // Auto: only where the processor computes bfloat16 in hardware, and not on GPUs, where it has not been tested.
        if (!fromScratch || device.type != DeviceType.CPU) return (ScalarType.Float32, null);
        return HasHardwareBFloat16()
            ? (ScalarType.BFloat16, "Training steps run in bfloat16, which this processor computes in hardware, so more of them fit in the time; the weights are kept and saved in float32.")
            : (ScalarType.Float32, null);
    }

    /// <summary>Whether the processor has bfloat16 instructions (read on Linux; false elsewhere).</summary>
    public static bool HasHardwareBFloat16()
    {
        try
        {
            var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
            return flags.Intersect(HardwareFlags).Any();
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}

/// <summary>
/// Training steps in bfloat16: a bfloat16 copy of the model that each step first refreshes from the float32 weights,
/// then runs forward and backward on. Its gradients are what the optimizer reads (converted to float32), and the
/// optimizer updates the float32 weights, so small updates are not rounded away and everything else (evaluation,
/// checkpoints, the saved model) sees float32 as before. RMSNorm sums in float32; the loss is taken straight from the
/// bfloat16 logits (see <see cref="NextTokenObjective"/>).
/// </summary>
public sealed class BFloat16Steps : IDisposable
{
    private readonly (Tensor Weight, Tensor Copy)[] _pairs;

    public BFloat16Steps(LlamaForCausalLM model, Device device)
    {
        Model = new LlamaForCausalLM(model.Config);
        Model.to(device);
        Model.to(ScalarType.BFloat16);
        Model.train();
        var copies = Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var weights = model.named_parameters().ToList();
        GradientsFrom = weights.ToDictionary(p => p.name, p => (Tensor)copies[p.name]);
        _pairs = [.. weights.Select(p => ((Tensor)p.parameter, (Tensor)copies[p.name]))];
        Parameters = [.. copies.Values];
    }

    /// <summary>The bfloat16 model the steps run on.</summary>
    public LlamaForCausalLM Model { get; }

    /// <summary>For each weight of the float32 model (by name), the bfloat16 tensor whose gradient the optimizer reads.</summary>
    public IReadOnlyDictionary<string, Tensor> GradientsFrom { get; }

    /// <summary>The bfloat16 parameters: their gradients are clipped.</summary>
    public TorchSharp.Modules.Parameter[] Parameters { get; }

    /// <summary>Copies the float32 weights in; before every step, since the optimizer changed them.</summary>
    public void LoadWeights()
    {
        using var _ = no_grad();
        foreach (var (weight, copy) in _pairs) copy.copy_(weight);
    }

    public void Dispose() => Model.Dispose();
}
