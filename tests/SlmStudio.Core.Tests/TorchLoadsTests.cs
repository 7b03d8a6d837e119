using TorchSharp;

namespace SlmStudio.Core.Tests;

public class TorchLoadsTests
{
    [Fact]
    public void TorchLoadsAndComputesGradients()
    {
        // Fails on Debian 12 unless the build marked GLIBCXX_3.4.32 weak in libLibTorchSharp.so.
        var x = torch.tensor(new float[] { 1, 2, 3 }, requires_grad: true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal(new float[] { 2, 4, 6 }, x.grad!.data<float>().ToArray());
        Assert.Equal(TorchSharp.torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, TorchDevice.Default.type);
    }
}
