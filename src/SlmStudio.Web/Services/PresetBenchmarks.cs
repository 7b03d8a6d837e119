using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Core.Processes;

namespace SlmStudio.Web.Services;

/// <summary>
/// Measures how fast each preset trains on this machine (<c>slm bench train</c>: real forward/backward/AdamW steps),
/// cached in the database per machine, so the architecture step shows measured, not guessed, figures.
/// </summary>
public sealed class PresetBenchmarks(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, IOptions<StudioOptions> options, TimeProvider clock, ILogger<PresetBenchmarks> logger)
{
    public static IReadOnlyList<ModelPreset> Presets => ModelPresets.All;

    /// <summary>The sizes every machine can try, measured as soon as the architecture step opens (once per machine:
    /// cached); the larger ones only on request, because measuring them takes minutes and gigabytes on a CPU. Core's
    /// presets say nothing about cost to measure, so the portal makes this choice, here only.</summary>
    public static IReadOnlyList<string> MeasuredWhenShown { get; } = ["tiny", "small"];

    private readonly ConcurrentDictionary<string, Task<PresetBenchmark?>> _running = new();

    public async Task<PresetBenchmark?> CachedAsync(string preset, int vocabSize)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var row = await db.Benchmarks.SingleOrDefaultAsync(b => b.Preset == preset && b.VocabSize == vocabSize && b.MachineName == Environment.MachineName);
        // A speed measured before an update changed the preset's shape (presets.json) is not this shape's speed: measure again.
        var shape = ModelPresets.All.FirstOrDefault(p => p.Name == preset);
        return row is not null && (shape is null || row.Parameters == shape.ParameterCount(vocabSize)) ? row : null;
    }

    /// <summary>
    /// Training FLOP/s this machine achieved in its largest measured preset (6 FLOPs per parameter per token: forward
    /// and backward), from which the speed of other shapes (a base model) is estimated; null before any measurement.
    /// </summary>
    public async Task<double?> MachineFlopsAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.Benchmarks.Where(b => b.MachineName == Environment.MachineName && b.TokensPerSecond > 0 && b.Parameters > 0).ToListAsync(ct);
        return rows.Count == 0 ? null : rows.OrderByDescending(b => b.Parameters).Select(b => 6.0 * b.Parameters * b.TokensPerSecond).First();
    }

    /// <summary>Runs the measurement once per preset and vocabulary at a time; concurrent callers share it.</summary>
    public Task<PresetBenchmark?> MeasureAsync(string preset, int vocabSize, CancellationToken ct = default) =>
        _running.GetOrAdd($"{preset}/{vocabSize}", _ => MeasureCoreAsync(preset, vocabSize, ct)
            .ContinueWith(t => { _running.TryRemove($"{preset}/{vocabSize}", out Task<PresetBenchmark?>? _); return t; }, TaskScheduler.Default).Unwrap());

    private async Task<PresetBenchmark?> MeasureCoreAsync(string preset, int vocabSize, CancellationToken ct)
    {
        string? json = null;
        var result = await new SlmLauncher(paths.Slm).BenchTrainAsync(preset, vocabSize, options.Value.BenchmarkSteps, line =>
        {
            if (line.TrimStart().StartsWith('{')) json = line;
            return Task.CompletedTask;
        }, ct);
        if (result.ExitCode != 0 || json is null)
        {
            logger.LogWarning("Benchmark of preset {Preset} failed (exit {ExitCode}): {Stderr}", preset, result.ExitCode, result.StandardErrorTail);
            return null;
        }
        using var doc = JsonDocument.Parse(json);
        var row0 = doc.RootElement.GetProperty("presets")[0];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.Benchmarks.SingleOrDefaultAsync(b => b.Preset == preset && b.VocabSize == vocabSize && b.MachineName == Environment.MachineName, ct);
        if (row is null) db.Benchmarks.Add(row = new PresetBenchmark { Preset = preset, VocabSize = vocabSize, MachineName = Environment.MachineName });
        row.Parameters = row0.GetProperty("parameters").GetInt64();
        row.TokensPerSecond = row0.GetProperty("tokensPerSecond").GetDouble();
        row.Device = doc.RootElement.GetProperty("device").GetString() ?? "";
        row.MeasuredAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        logger.LogInformation("Preset {Preset} trains at {TokensPerSecond:F0} tokens/s on this machine", preset, row.TokensPerSecond);
        return row;
    }
}

/// <summary>
/// How busy the machine is now: the one-minute load average (processes running or waiting for a processor) against
/// the processor cores. Speeds are measured once and cached; when other work (another run, another program) keeps the
/// cores busy, a new run gets only its share of them, so estimates made from the measurement are widened.
/// </summary>
public sealed record MachineLoad(double LoadAverage, int Cores)
{
    /// <summary>Busy from half the cores kept busy by other work: below that a run still gets nearly all of them.</summary>
    public bool Busy => LoadAverage >= Cores * 0.5;

    /// <summary>The share of the processor a new run that wants every core gets: its cores against everything that wants one.</summary>
    public double ShareForNewWork => Math.Min(1.0, Cores / (LoadAverage + Cores));

    /// <summary>"The server is busy right now (load 5.0 on 2 processor cores): training may run at about a third of the measured speed."</summary>
    public string Describe() => Busy
        ? $"The server is busy right now (load {LoadAverage:0.0} on {Cores} processor {(Cores == 1 ? "core" : "cores")}), so training may run at only about {ShareForNewWork * 100:0}% of the speed measured here; the figures below allow for that."
        : $"The server is quiet right now (load {LoadAverage:0.0} on {Cores} processor {(Cores == 1 ? "core" : "cores")}); another run or program at the same time makes training slower.";

    /// <summary>This machine now; on a system without /proc/loadavg the machine counts as quiet.</summary>
    public static MachineLoad Now()
    {
        double load = 0;
        try
        {
            if (File.Exists("/proc/loadavg"))
                double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out load);
        }
        catch (IOException) { }
        return new MachineLoad(load, Environment.ProcessorCount);
    }
}

/// <summary>Where pages and services read the machine's load; tests set a quiet or a busy machine instead of the real one.</summary>
public sealed class MachineLoadProbe
{
    public Func<MachineLoad> Read { get; set; } = MachineLoad.Now;

    public MachineLoad Now() => Read();
}
