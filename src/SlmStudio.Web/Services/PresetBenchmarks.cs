using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Services;

/// <summary>A size the architecture step offers (names as <c>slm train --preset</c> takes them).</summary>
public sealed record PresetInfo(string Name, string Title, string Description, long NominalParameters);

/// <summary>
/// Measures how fast each preset trains on this machine: a few real <c>slm train</c> steps on the sample documents,
/// cached in the database per machine, so the architecture step shows measured, not guessed, figures.
/// </summary>
public sealed class PresetBenchmarks(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, IOptions<StudioOptions> options, TimeProvider clock, ILogger<PresetBenchmarks> logger)
{
    public static readonly IReadOnlyList<PresetInfo> Presets =
    [
        new("tiny", "Tiny", "About a million parameters. Trains in minutes on any computer; good for trying things out.", 1_000_000),
        new("small", "Small", "About ten million parameters. A good first real model.", 10_000_000),
        new("medium", "Medium", "About thirty million parameters. Needs more text and more time.", 30_000_000),
        new("large", "Large", "About a hundred million parameters. For large document sets; a GPU helps.", 100_000_000),
    ];

    private readonly ConcurrentDictionary<string, Task<PresetBenchmark?>> _running = new();

    /// <summary>Weights, gradients and two Adam moments in float32, plus a quarter for activations.</summary>
    public static long TrainingMemoryBytes(long parameters) => (long)(parameters * 16 * 1.25) + 200L * 1024 * 1024;

    public async Task<PresetBenchmark?> CachedAsync(string preset, int vocabSize)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        return await db.Benchmarks.SingleOrDefaultAsync(b => b.Preset == preset && b.VocabSize == vocabSize && b.MachineName == Environment.MachineName);
    }

    /// <summary>Runs the measurement once per preset and vocabulary at a time; concurrent callers share it.</summary>
    public Task<PresetBenchmark?> MeasureAsync(string preset, int vocabSize, CancellationToken ct = default) =>
        _running.GetOrAdd($"{preset}/{vocabSize}", _ => MeasureCoreAsync(preset, vocabSize, ct)
            .ContinueWith(t => { _running.TryRemove($"{preset}/{vocabSize}", out Task<PresetBenchmark?>? _); return t; }, TaskScheduler.Default).Unwrap());

    private async Task<PresetBenchmark?> MeasureCoreAsync(string preset, int vocabSize, CancellationToken ct)
    {
        var outDir = Path.Combine(paths.Benchmarks, $"{preset}-{vocabSize}-{Guid.NewGuid():N}");
        try
        {
            long parameters = 0;
            double? tokensPerSecond = null;
            string device = "";
            string? error = null;
            var result = await SlmProcess.RunAsync(paths.Slm,
            [
                "train", "--data", Path.Combine(AppContext.BaseDirectory, "SampleData"), "--preset", preset, "--out", outDir,
                "--max-steps", options.Value.BenchmarkSteps.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--vocab-size", vocabSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ], line =>
            {
                var e = TrainerEvent.TryParse(line);
                if (e?.Event == "started") { parameters = e.Parameters ?? 0; device = e.Device ?? ""; }
                if (e?.Event == "step" && e.TokensPerSecond is { } tps) tokensPerSecond = tps;
                if (e?.Event == "error") error = e.Message;
                return Task.CompletedTask;
            }, ct);
            if (result.ExitCode != 0 || tokensPerSecond is null || parameters == 0)
            {
                logger.LogWarning("Benchmark of preset {Preset} failed (exit {ExitCode}): {Error} {Stderr}", preset, result.ExitCode, error, result.StandardErrorTail);
                return null;
            }
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var row = await db.Benchmarks.SingleOrDefaultAsync(b => b.Preset == preset && b.VocabSize == vocabSize && b.MachineName == Environment.MachineName, ct);
            if (row is null) db.Benchmarks.Add(row = new PresetBenchmark { Preset = preset, VocabSize = vocabSize, MachineName = Environment.MachineName });
            row.Parameters = parameters;
            row.TokensPerSecond = tokensPerSecond.Value;
            row.Device = device;
            row.MeasuredAt = clock.GetUtcNow();
            await db.SaveChangesAsync(ct);
            return row;
        }
        finally
        {
            try { if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true); } catch (IOException) { }
        }
    }
}
