using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

public sealed class BenchTrainCommand : SlmCommand
{
    private const int DefaultVocabSize = 4096;
    private const int DefaultSteps = 3;

    private readonly Option<string?> _presets = Text("--presets", "tiny,small,...", "the presets to measure, separated by commas (default: all)");
    private readonly Option<int?> _vocabSize = Int("--vocab-size", "N", $"vocabulary size of the measured models (default {DefaultVocabSize})", 260, 1_000_000);
    private readonly Option<int?> _steps = Int("--steps", "N", $"training steps measured per preset (default {DefaultSteps})", 1, 1000);
    private readonly Option<string?> _device = Text("--device", "auto|cpu|cuda", "where to train (default auto: the GPU when there is one)");
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of a table");

    public BenchTrainCommand() : base("train", "Measure training speed of every preset against this machine's matrix-multiply speed.", """
        Measures, in one run: the machine's own matrix-multiply FLOP/s (a large torch.mm), then for each preset the
        training tokens/s of real forward/backward/AdamW steps and the ratio of achieved training FLOP/s
        (6 x parameters x tokens / time) to the matrix-multiply figure.
        """)
    {
        foreach (var option in new Option[] { _presets, _vocabSize, _steps, _device, _json }) Options.Add(option);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var names = (parsed.GetValue(_presets) ?? string.Join(',', ModelPresets.All.Select(p => p.Name))).Split(',', StringSplitOptions.RemoveEmptyEntries);
        var vocab = parsed.GetValue(_vocabSize) ?? DefaultVocabSize;
        var steps = parsed.GetValue(_steps) ?? DefaultSteps;
        var device = TorchDevice.Parse(parsed.GetValue(_device));
        var json = parsed.GetValue(_json);
        var presets = names.Select(ModelPresets.Get).ToList();

        var matmul = ThroughputProbe.MatmulFlops(device);
        if (!json)
        {
            Console.WriteLine($"device: {device.type}, torch threads: {TorchSharp.torch.get_num_threads()}");
            Console.WriteLine($"matrix multiply (2048x2048 fp32 torch.mm): {matmul / 1e9:F1} GFLOP/s");
            Console.WriteLine($"{"preset",-8} {"parameters",12} {"batch x ctx",12} {"tokens/s",10} {"train GFLOP/s",14} {"ratio",6}");
        }
        var rows = new List<object>();
        foreach (var preset in presets)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var config = preset.ConfigFor(vocab);
            var tps = ThroughputProbe.TrainingTokensPerSecond(config, preset.BatchSize, preset.ContextLength, device, steps);
            var flops = tps * ThroughputProbe.TrainingFlopsPerToken(config);
            rows.Add(new { preset = preset.Name, parameters = config.ParameterCount, batchSize = preset.BatchSize, contextLength = preset.ContextLength, tokensPerSecond = tps, trainingFlops = flops, ratio = flops / matmul, memoryBytes = preset.TrainingMemoryBytes(vocab) });
            if (!json)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{preset.Name,-8} {config.ParameterCount,12:N0} {preset.BatchSize + "x" + preset.ContextLength,12} {tps,10:N0} {flops / 1e9,14:F1} {flops / matmul,6:F2}"));
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { device = device.type.ToString(), matmulFlops = matmul, presets = rows }, TrainingEvent.Json));
        return Task.FromResult(0);
    }
}
