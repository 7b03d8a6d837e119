using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

public class BenchmarkTests
{
    [Fact]
    public async Task Measures_a_preset_on_this_machine_once_and_caches_it()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:BenchmarkSteps"] = "1" });
        var benchmarks = host.Get<PresetBenchmarks>();
        Assert.Null(await benchmarks.CachedAsync("tiny", 512));

        var measured = await benchmarks.MeasureAsync("tiny", 512);

        Assert.NotNull(measured);
        Assert.Equal(Core.Models.ModelPresets.Get("tiny").ParameterCount(512), measured.Parameters);
        Assert.True(measured.TokensPerSecond > 0);
        Assert.Equal("CPU", measured.Device, ignoreCase: true);
        var cached = await benchmarks.CachedAsync("tiny", 512);
        Assert.Equal(measured.TokensPerSecond, cached!.TokensPerSecond);

        // The measured speed sets how often a time-budgeted run evaluates (about ten times).
        var project = await host.AddProjectAsync();
        project.VocabSize = 512;
        project.TimeBudgetMinutes = 10;
        var every = await host.Get<Jobs.RunScheduler>().AutomaticEvalEveryAsync(project);
        var preset = Core.Models.ModelPresets.Get("tiny");
        var steps = measured.TokensPerSecond * 600 / (preset.BatchSize * preset.ContextLength);
        Assert.Equal(Math.Clamp((int)steps / 10, 1, 500), every);
    }

    [Fact]
    public async Task A_speed_measured_for_an_earlier_shape_of_a_preset_is_not_used()
    {
        await using var host = await StudioTestHost.StartAsync();
        var tiny = Core.Models.ModelPresets.Get("tiny");
        await using (var db = await host.DbAsync())
        {
            // As an update that changed presets.json finds it: the row's parameter count is another shape's.
            db.Benchmarks.Add(new Data.PresetBenchmark { Preset = "tiny", VocabSize = 1024, Parameters = (tiny.ConfigFor(1024) with { NumLayers = tiny.Layers + 1 }).ParameterCount, TokensPerSecond = 9_000, MachineName = Environment.MachineName });
            db.Benchmarks.Add(new Data.PresetBenchmark { Preset = "tiny", VocabSize = 2048, Parameters = tiny.ParameterCount(2048), TokensPerSecond = 12_000, MachineName = Environment.MachineName });
            await db.SaveChangesAsync();
        }
        var benchmarks = host.Get<PresetBenchmarks>();

        Assert.Null(await benchmarks.CachedAsync("tiny", 1024));
        Assert.Equal(12_000, (await benchmarks.CachedAsync("tiny", 2048))!.TokensPerSecond);
    }
}
