using TorchSharp;

namespace SlmStudio.Core;

/// <summary>Chooses where tensors live: CUDA when TorchSharp finds a GPU, the CPU otherwise.</summary>
public static class TorchDevice
{
    private static readonly Lazy<torch.Device> Best = new(() =>
        torch.cuda.is_available() ? torch.CUDA : torch.CPU);

    public static torch.Device Default => Best.Value;

    /// <summary>Parses "auto", "cpu" or "cuda[:N]".</summary>
    public static torch.Device Parse(string? name) => name switch
    {
        null or "" or "auto" => Default,
        "cpu" => torch.CPU,
        _ when name.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) => torch.cuda.is_available()
            ? new torch.Device(name)
            : throw new ArgumentException("A GPU (CUDA) was requested but none is available on this machine; use --device cpu or auto."),
        _ => throw new ArgumentException($"Unknown device '{name}'; use auto, cpu or cuda."),
    };
}
