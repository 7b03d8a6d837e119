using System.Diagnostics;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>What one LoRA benchmark measured on this machine (random weights of a real model's shape).</summary>
public sealed record LoraBenchmarkResult(
    string Config, long Parameters, long TrainableParameters, int BatchSize, int ContextLength, int Steps,
    double TrainingTokensPerSecond, long PeakResidentBytes, long EstimatedPeakBytes,
    double ExportSeconds, bool ParityPassed, double OnnxDecodeTokensPerSecond);

/// <summary>
/// LoRA fine-tuning speed and memory, export time and ONNX Runtime decoding speed for a model configuration, measured
/// with random weights (the speed and memory of a shape do not depend on what its weights learned). Meant to run in a
/// process of its own: the peak resident memory it reports is the process's.
/// </summary>
public static class LoraBenchmark
{
    public const int DecodeTokens = 32;

    public static LoraBenchmarkResult Run(string name, LlamaConfig config, LoraConfig lora, int batchSize, int contextLength, int steps, string workDirectory,
        IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var estimate = FineTuneEstimate.For(config, lora, batchSize, contextLength);
        var modelDir = Path.Combine(workDirectory, "model");
        double tokensPerSecond;
        long peak, trainable;
        using (var model = new LlamaForCausalLM(config))
        {
            progress?.Report($"Initialising {config.ParameterCount:N0} random weights ({name})");
            model.InitializeWeights(0);
            model.train();
            using var adapters = LoraAdapters.Inject(model, lora);
            trainable = adapters.ParameterCount;
            progress?.Report($"Fine-tuning {trainable:N0} adapter parameters for {steps} steps of {batchSize} x {contextLength} tokens");
            tokensPerSecond = TrainingTokensPerSecond(model, adapters, batchSize, contextLength, steps, ct);
            peak = PeakResidentBytes();

            adapters.MergeIntoBase(); // in place: no second copy of the weights
            ModelFolder.Save(model, BenchmarkTokenizer(config.VocabSize), modelDir);
        }
        ct.ThrowIfCancellationRequested();

        progress?.Report("Exporting to ONNX (with the parity check)");
        var clock = Stopwatch.StartNew();
        var artifactDir = Path.Combine(workDirectory, "artifact");
        var exported = ModelExporter.Export(modelDir, artifactDir, progress, ct);
        var exportSeconds = clock.Elapsed.TotalSeconds;

        progress?.Report($"Decoding {DecodeTokens} tokens with ONNX Runtime");
        using var artifact = OnnxArtifact.Open(artifactDir);
        int[] prompt = [.. Enumerable.Range(0, 16).Select(i => (i * 7 + 3) % config.VocabSize)];
        var speed = GenerationBenchmark.MeasureOnnx(artifact, prompt, Math.Min(DecodeTokens, config.MaxPositions - prompt.Length), repeats: 2);
        return new LoraBenchmarkResult(name, config.ParameterCount, trainable, batchSize, contextLength, steps, tokensPerSecond, peak, estimate.PeakBytes,
            exportSeconds, exported.Passed, speed.DecodeTokensPerSecond);
    }

    /// <summary>Real forward/backward/AdamW steps on random tokens, timed after a first step that pays one-off allocations.</summary>
    private static double TrainingTokensPerSecond(LlamaForCausalLM model, LoraAdapters adapters, int batchSize, int contextLength, int steps, CancellationToken ct)
    {
        var vocab = model.Config.VocabSize;
        using var optimizer = new AdamW(adapters.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)), 0.0);
        using var x = randint(0, vocab, [batchSize, contextLength], dtype: ScalarType.Int64);
        var stopwatch = new Stopwatch();
        for (int step = 0; step <= steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            if (step == 1) stopwatch.Start();
            using var scope = NewDisposeScope();
            var logits = model.forward(x);
            var loss = F.cross_entropy(logits.view(-1, vocab), x.view(-1));
            loss.backward();
            optimizer.Update(1e-4);
            optimizer.ZeroGrad();
            _ = loss.item<float>();
        }
        return steps * (double)batchSize * contextLength / stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>The most resident memory this process has held (Linux VmHWM; the working set's peak elsewhere).</summary>
    public static long PeakResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    /// <summary>A small byte-level tokenizer, so that the exported folder is complete; its ids all exist in the model's vocabulary.</summary>
    private static HfTokenizer BenchmarkTokenizer(int vocabSize) =>
        new BpeTrainer(Math.Min(vocabSize, BpeTrainer.MinimumVocabSize + 64)).Train(string.Concat(Enumerable.Repeat(
            "The quick brown fox jumps over the lazy dog. Our support team answers every email within one business day. ", 20)));
}
