using System.Diagnostics;
using SlmStudio.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>
/// Milliseconds of one training step's forward and backward pass (the optimizer left out), and of its parts: one
/// decoder layer, the attention inside it (scores, softmax and weighted sum, <c>scaled_dot_product_attention</c>),
/// and the output layer with the loss. Each part is timed on its own, so the parts need not add up to the step.
/// </summary>
public sealed record StepPartTimes(double StepMs, int Layers, double LayerMs, double AttentionMs, double OutputMs)
{
    /// <summary>The share of a layer's time spent in attention itself, from 0 to 1.</summary>
    public double AttentionShareOfLayer => AttentionMs / LayerMs;
}

/// <summary>
/// Where a training step's time goes (<c>slm bench train --parts</c>). Found with it: on a 2-core CPU a tiny-preset
/// layer costs about as much at width 64 as at 128, because its attention works on (B, H, T, T) scores whose size
/// depends on the heads and the context, not the width.
/// </summary>
public static class StepParts
{
    public static StepPartTimes Measure(LlamaConfig config, int batchSize, int contextLength, Device device, ScalarType dtype, int repeats = 5)
    {
        using var outer = NewDisposeScope();
        var (B, T, C, H, hd) = (batchSize, contextLength, config.HiddenSize, config.NumHeads, config.HeadDim);

        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(0);
        model.to(device);
        model.to(dtype);
        model.train();
        var ids = randint(0, config.VocabSize, [B, T], dtype: ScalarType.Int64, device: device);        // (B, T)
        var step = Time(repeats, () => F.cross_entropy(model.forward(ids).view(-1, config.VocabSize), ids.view(-1))); // logits (B, T, V)

        using var layer = new LlamaDecoderLayer(config, 0);
        layer.to(device);
        layer.to(dtype);
        layer.train();
        var rope = new Rotary(config, 0, T, device);
        var x = randn(B, T, C, dtype: dtype, device: device).requires_grad_(true);                      // (B, T, C)
        var layerMs = Time(repeats, () => layer.Forward(x, rope, cache: null).sum());

        // Queries, keys and values as the layer hands them to attention: key/value heads already repeated to H.
        var q = randn(B, H, T, hd, dtype: dtype, device: device).requires_grad_(true);                  // (B, H, T, hd)
        var k = randn(B, H, T, hd, dtype: dtype, device: device).requires_grad_(true);
        var v = randn(B, H, T, hd, dtype: dtype, device: device).requires_grad_(true);
        var attention = Time(repeats, () => F.scaled_dot_product_attention(q, k, v, is_casual: true).sum());

        var hidden = randn(B, T, C, dtype: dtype, device: device).requires_grad_(true);                 // (B, T, C)
        var embedding = (randn(config.VocabSize, C, dtype: dtype, device: device) * 0.02).requires_grad_(true); // (V, C), tied
        var output = Time(repeats, () => F.cross_entropy(F.linear(hidden, embedding).view(-1, config.VocabSize), ids.view(-1)));

        return new StepPartTimes(step, config.NumLayers, layerMs, attention, output);
    }

    /// <summary>
    /// Mean milliseconds of a forward and backward pass after two untimed ones (the first pay for allocations). The
    /// last pass's loss is read back at the end, which waits for queued work on asynchronous devices.
    /// </summary>
    private static double Time(int repeats, Func<Tensor> forward)
    {
        for (int i = 0; i < 2; i++) using (NewDisposeScope()) forward().backward();
        var started = Stopwatch.GetTimestamp();
        for (int i = 0; i < repeats; i++)
        {
            using var scope = NewDisposeScope();
            var loss = forward();
            loss.backward();
            if (i == repeats - 1) _ = loss.to(ScalarType.Float32).item<float>();
        }
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds / repeats;
    }
}
