using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

public sealed class BenchLoraCommand : SlmCommand
{
    public const string WorkFolderPrefix = "slm-bench-lora-";
    private const string DefaultConfig = "smollm2-135m";
    private const int DefaultSteps = 3;
    private const int DefaultBatchSize = 4;
    private const int DefaultContext = 256;

    private readonly Option<string?> _config = Text("--config", "name|folder", $"a published configuration ({string.Join(", ", PublishedConfigs.Names)}; default {DefaultConfig}), or a Hugging Face model folder whose config.json is used");
    private readonly Option<int?> _steps = Int("--steps", "N", $"timed LoRA training steps (default {DefaultSteps})", 1, 1000);
    private readonly Option<int?> _batchSize = Int("--batch-size", "N", $"sequences per step (default {DefaultBatchSize})", 1, 4096);
    private readonly Option<int?> _context = Int("--context", "N", $"tokens per sequence (default {DefaultContext}, at most the model's)", 8, 1 << 16);
    private readonly Option<int?> _rank = Int("--lora-rank", "R", $"adapter rank (default {LoraConfig.DefaultRank})", 1, LoraConfig.MaxRank);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");

    public BenchLoraCommand() : base("lora", "Measure LoRA fine-tuning speed and memory, export time and ONNX decoding speed for a real model's shape.", """
        Builds a model with random weights and the exact configuration of a published small model, then measures on
        this machine: LoRA fine-tuning tokens/s (real forward/backward/AdamW steps on the adapters, the base frozen)
        and the process's peak resident memory beside the engine's estimate, the time to export the merged model to
        ONNX (with its parity check), and ONNX Runtime decoding tokens/s. Large configurations need many gigabytes
        of memory and minutes per step on a small server.
        """)
    {
        foreach (var option in new Option[] { _config, _steps, _batchSize, _context, _rank, _json }) Options.Add(option);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var name = parsed.GetValue(_config) ?? DefaultConfig;
        var config = PublishedConfigs.Get(name)
            ?? (Directory.Exists(name) ? LlamaConfig.Load(Path.Combine(name, ModelFolder.ConfigFile))
                : throw new UsageException($"'{name}' is neither a known configuration ({string.Join(", ", PublishedConfigs.Names)}) nor a model folder."));
        var json = parsed.GetValue(_json);
        var context = Math.Min(parsed.GetValue(_context) ?? DefaultContext, config.MaxPositions);
        var lora = new LoraConfig { Rank = parsed.GetValue(_rank) ?? LoraConfig.DefaultRank };
        var progress = json ? null : new Progress<string>(Console.WriteLine);
        // Disposed on a normal end and on Ctrl+C (the command line cancels and waits); a run killed outright leaves its
        // folder (gigabytes) behind, and the next run deletes it first.
        using var workFolder = BenchmarkWorkFolder.Create(WorkFolderPrefix, progress);
        var work = workFolder.Path;
        var result = LoraBenchmark.Run(PublishedConfigs.Get(name) is null ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(name))) : name.ToLowerInvariant(),
            config, lora, parsed.GetValue(_batchSize) ?? DefaultBatchSize, context, parsed.GetValue(_steps) ?? DefaultSteps, work, progress, cancellationToken);
        if (json) Console.WriteLine(JsonSerializer.Serialize(result, TrainingEvent.Json));
        else Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Config}: {result.Parameters:N0} parameters, {result.TrainableParameters:N0} trained (rank {lora.Rank}); " +
            $"{result.TrainingTokensPerSecond:N0} tokens/s at {result.BatchSize} x {result.ContextLength}; peak memory {result.PeakResidentBytes / 1e9:N2} GB " +
            $"(estimated {result.EstimatedPeakBytes / 1e9:N2} GB); export {result.ExportSeconds:N1} s (parity {(result.ParityPassed ? "passed" : "FAILED")}); " +
            $"ONNX decoding {result.OnnxDecodeTokensPerSecond:N1} tokens/s"));
        return Task.FromResult(0);
    }
}
