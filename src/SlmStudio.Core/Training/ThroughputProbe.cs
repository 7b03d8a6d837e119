using TorchSharp;
using System.Diagnostics;
using SlmStudio.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>Measured speed of training steps on this machine: what size presets and time estimates are based on.</summary>
public static class ThroughputProbe
{
    /// <summary>Training tokens per second for a model of this shape, measured over a few real forward/backward/update steps on random tokens.</summary>
    /// <param name="dtype">The weights' type: float32, or bfloat16 as <see cref="BFloat16Steps"/> train (there the float32 weights' copies and optimizer add a little).</param>
    /// <param name="matrixOptimizer">How the layers' matrices step: the preset's (<see cref="ModelPreset.Optimizer"/>), as its runs from scratch do.</param>
    public static double TrainingTokensPerSecond(LlamaConfig config, int batchSize, int contextLength, Device device, int timedSteps = 2, ScalarType dtype = ScalarType.Float32,
        MatrixOptimizer matrixOptimizer = MatrixOptimizer.AdamW)
    {
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(0);
        model.to(device);
        if (dtype != ScalarType.Float32) model.to(dtype);
        model.train();
        using var optimizer = new AdamW(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), 0.1) { Muon = matrixOptimizer == MatrixOptimizer.Muon };
        var x = randint(0, config.VocabSize, [batchSize, contextLength], dtype: ScalarType.Int64, device: device);
        var stopwatch = new Stopwatch();
        for (int step = 0; step <= timedSteps; step++)
        {
            if (step == 1) stopwatch.Start(); // the first step pays one-off allocation costs
            using var scope = NewDisposeScope();
            var logits = model.forward(x);
            var loss = F.cross_entropy(logits.view(-1, config.VocabSize), x.view(-1));
            loss.backward();
            optimizer.Update(1e-4);
            optimizer.ZeroGrad();
            _ = loss.to(ScalarType.Float32).item<float>();
        }
        x.Dispose();
        return timedSteps * (double)batchSize * contextLength / stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>The machine's own dense matrix-multiply speed (FLOP/s) from a large square <c>torch.mm</c> (float32 unless told).</summary>
    public static double MatmulFlops(Device device, int size = 2048, int repeats = 5, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var a = randn(size, size, dtype: dtype, device: device);
        var b = randn(size, size, dtype: dtype, device: device);
        mm(a, b).sum().to(ScalarType.Float32).item<float>(); // warm-up
        var stopwatch = Stopwatch.StartNew();
        Tensor? c = null;
        for (int i = 0; i < repeats; i++) c = mm(a, b);
        _ = c!.sum().to(ScalarType.Float32).item<float>(); // forces completion on asynchronous devices
        return repeats * 2.0 * size * size * size / stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>6·N·tokens: the FLOPs of a training step's matrix multiplies (forward 2N, backward 4N per token).</summary>
    public static double TrainingFlopsPerToken(LlamaConfig config) => 6.0 * config.ParameterCount;
}
