using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>
/// Random training windows from a token file. The offsets of step s depend only on (seed, s), so a resumed run sees
/// exactly the batches an uninterrupted run would have seen, with no generator state to save.
/// </summary>
public sealed class Batches(TokenBin tokens, int batchSize, int contextLength, long seed, Device device)
{
    public (Tensor Inputs, Tensor Targets) Sample(int step, int micro)
    {
        var random = new Random(unchecked((int)(seed * 1_000_003 + step * 7_919L + micro)));
        var x = new long[batchSize * contextLength];
        var y = new long[batchSize * contextLength];
        var window = new long[contextLength + 1];
        for (int b = 0; b < batchSize; b++)
        {
            var start = random.NextInt64(0, tokens.Count - contextLength);
            tokens.Read(start, window);
            window.AsSpan(0, contextLength).CopyTo(x.AsSpan(b * contextLength));
            window.AsSpan(1, contextLength).CopyTo(y.AsSpan(b * contextLength));
        }
        return (tensor(x, [batchSize, contextLength], device: device), tensor(y, [batchSize, contextLength], device: device));
    }
}
