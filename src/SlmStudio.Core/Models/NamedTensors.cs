using static TorchSharp.torch;

namespace SlmStudio.Core.Models;

/// <summary>TorchSharp tensors as <see cref="NamedTensor"/>s for safetensors files: float32 values, row-major, copied to the CPU.</summary>
public static class NamedTensors
{
    public static NamedTensor Of(string name, Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        return new NamedTensor(name, tensor.shape, cpu.data<float>().ToArray());
    }
}
