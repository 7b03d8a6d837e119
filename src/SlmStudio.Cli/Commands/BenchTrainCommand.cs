using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

namespace SlmStudio.Cli.Commands;

public sealed class BenchTrainCommand : ICliCommand
{
    public string Name => "bench train";
    public string Summary => "Measure training speed of every preset against this machine's matrix-multiply speed.";
    public string Help => """
        Usage: slm bench train [--presets tiny,small,...] [--vocab-size N] [--steps N] [--device auto|cpu|cuda] [--json]

        Measures, in one run: the machine's own matrix-multiply FLOP/s (a large torch.mm), then for each preset the
        training tokens/s of real forward/backward/AdamW steps and the ratio of achieved training FLOP/s
        (6 x parameters x tokens / time) to the matrix-multiply figure. --json prints one JSON object instead of a table.
        """;

    public Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        var names = (args.String("presets") ?? string.Join(',', ModelPresets.All.Select(p => p.Name))).Split(',', StringSplitOptions.RemoveEmptyEntries);
        var vocab = args.Int("vocab-size", 260, 1_000_000) ?? 4096;
        var steps = args.Int("steps", 1, 1000) ?? 3;
        var device = TorchDevice.Parse(args.String("device"));
        var json = args.Flag("json");
        args.EnsureAllUsed(0);
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
