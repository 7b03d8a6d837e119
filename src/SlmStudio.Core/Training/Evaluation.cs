using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>The TorchSharp side of measuring a model: validation loss over <see cref="DocumentStream.Windows"/> and the baseline it must beat.</summary>
public static class Evaluation
{
    /// <summary>
    /// The simple baseline every model must beat: validation loss (nats per token) of a model that only knows how often
    /// each token occurs in the training text (add-one smoothed), with no context at all.
    /// </summary>
    public static double UnigramBaselineLoss(IReadOnlyList<int> trainIds, IReadOnlyList<int> validationIds, int vocabSize)
    {
        var counts = new long[vocabSize];
        foreach (var id in trainIds) counts[id]++;
        var total = (double)trainIds.Count + vocabSize;
        // Position 0 is never predicted (as in DocumentStream.Windows), so the baseline scores the same tokens as the model.
        var nats = validationIds.Skip(1).Sum(id => -Math.Log((counts[id] + 1) / total));
        return nats / Math.Max(1, validationIds.Count - 1);
    }

    /// <summary>Mean cross-entropy (nats per predicted token) of the model over the given windows.</summary>
    public static double MeanLoss(LlamaForCausalLM model, TokenBin tokens, IReadOnlyList<(long Start, int Length)> windows, int batchSize)
    {
        var wasTraining = model.training;
        model.eval();
        var device = model.parameters().First().device;
        double nats = 0;
        long predicted = 0;
        try
        {
            using var _ = no_grad();
            foreach (var group in windows.GroupBy(w => w.Length))
            {
                foreach (var chunk in group.Chunk(batchSize))
                {
                    using var scope = NewDisposeScope();
                    var length = group.Key;
                    var x = new long[chunk.Length * length];
                    var y = new long[chunk.Length * length];
                    var buffer = new long[length + 1];
                    for (int b = 0; b < chunk.Length; b++)
                    {
                        tokens.Read(chunk[b].Start, buffer);
                        buffer.AsSpan(0, length).CopyTo(x.AsSpan(b * length));
                        buffer.AsSpan(1, length).CopyTo(y.AsSpan(b * length));
                    }
                    var logits = model.forward(tensor(x, [chunk.Length, length], device: device));
                    var loss = F.cross_entropy(logits.view(-1, logits.shape[^1]), tensor(y, device: device), reduction: nn.Reduction.Sum);
                    nats += loss.item<float>();
                    predicted += x.Length;
                }
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return predicted == 0 ? double.NaN : nats / predicted;
    }
}
