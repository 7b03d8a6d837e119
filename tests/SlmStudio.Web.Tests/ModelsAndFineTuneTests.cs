using SlmStudio.Core.Export.Quantization;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The Models page's settings in words and its smaller downloads (a real <c>slm export --precision int8</c> of a real
/// model), the fine-tuning estimate the architecture step shows, the refusal of a run that cannot fit (also when the
/// run is started without the page), and the busy-machine widening of measured speeds.
/// </summary>
public class ModelsAndFineTuneTests
{
    private static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return Path.Combine(dir.Parent!.FullName, "shared", "fixtures", name);
        throw new DirectoryNotFoundException("SlmStudio.sln not found above the test folder.");
    }

    [Fact]
    public void Version_settings_read_as_plain_words_with_units()
    {
        var version = new ModelVersion
        {
            Folder = "x",
            SettingsJson = """{"Preset":"tiny","VocabSize":4096,"BaseVersionId":null,"Minutes":20,"MaxSteps":null,"Seed":1234,"EvalEvery":50,"Device":"cpu","Task":"text","BaseModelName":null,"UseLora":false,"Gpu":"none"}""",
        };
        var rows = VersionDetails.Settings(version).ToDictionary(r => r.Name, r => r.Value);
        Assert.Equal("Write like us (continues text in your style)", rows["What it does"]);
        Assert.Equal("Tiny (about 1 million parameters)", rows["Model size"]);
        Assert.Equal("4,096 word pieces", rows["Vocabulary"]);
        Assert.Equal("20 minutes", rows["Training time budget"]);
        Assert.Equal("50 steps", rows["Checked on held-out text every"]);
        Assert.Equal("the processor (CPU)", rows["Trained on"]);
        Assert.Equal("1234", rows["Random seed"]);
        Assert.Equal("none", rows["Gpu"]); // a setting added later is shown, not dropped
        Assert.False(rows.ContainsKey("Fine-tuning method")); // trained from scratch: no method to speak of
        Assert.False(rows.ContainsKey("Training step limit")); // not set
        Assert.DoesNotContain(rows.Keys, k => k.Contains("Json") || k == "VocabSize" || k == "Preset");

        var lora = VersionDetails.Settings(new ModelVersion { Folder = "x", SettingsJson = """{"Task":"chat","BaseModelName":"smollm2","UseLora":true,"Minutes":1}""" })
            .ToDictionary(r => r.Name, r => r.Value);
        Assert.Equal("Answer questions", lora["What it does"]);
        Assert.Equal("the base model \"smollm2\" from the library", lora["Started from"]);
        Assert.StartsWith("Adapters only (LoRA)", lora["Fine-tuning method"]);
        Assert.Equal("1 minute", lora["Training time budget"]);
        Assert.Empty(VersionDetails.Settings(new ModelVersion { Folder = "x", SettingsJson = "not json" }));
    }

    [Fact]
    public void A_busy_machine_widens_the_measured_speed_and_says_so()
    {
        var quiet = new MachineLoad(0.3, 2);
        Assert.False(quiet.Busy);
        Assert.Contains("quiet", quiet.Describe());

        // The case: 4,659 tokens/s measured on a quiet machine, 1,000-1,700 during a run with load about 5.
        var busy = new MachineLoad(5.0, 2);
        Assert.True(busy.Busy);
        Assert.InRange(4659 * busy.ShareForNewWork, 1000, 1700);
        Assert.Contains("busy right now (load 5.0 on 2 processor cores)", busy.Describe());
        Assert.Contains("29%", busy.Describe());
        Assert.Equal(1.0, new MachineLoad(0, 4).ShareForNewWork);
    }

    [Fact]
    public async Task A_base_model_run_that_cannot_fit_in_memory_is_refused_on_the_page_and_when_started()
    {
        var library = Path.Combine(Path.GetTempPath(), "slm-web-tests", "library-" + Guid.NewGuid().ToString("N"));
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:BaseModelsPath"] = library });
        try
        {
            var catalog = host.Get<BaseModelCatalog>();
            catalog.Library.Import(Fixture("tiny-llama-hf"), "tiny-llama");
            await catalog.ScanAsync();
            var planner = host.Get<FineTunePlanner>();
            var config = LlamaConfig.Load(Path.Combine(Fixture("tiny-llama-hf"), "config.json"));

            // Enough memory, not measured yet: it fits, and the time waits for a measurement.
            planner.AvailableMemory = () => 64L << 30;
            var plan = (await planner.PlanAsync("tiny-llama", lora: true))!;
            Assert.True(plan.Fits);
            Assert.Equal(FineTuneEstimate.ForBaseModelRun(config, lora: true).PeakBytes, plan.PeakBytes);
            Assert.Null(plan.SecondsPerThousandExamples);
            Assert.Null(await planner.PlanAsync("not-in-the-library", lora: true));

            // Once this machine's speed was measured (the small preset), the time per 1,000 examples follows from it.
            await using (var db = await host.DbAsync())
            {
                db.Benchmarks.Add(new PresetBenchmark { Preset = "small", VocabSize = 4096, Parameters = ModelPresets.Get("small").ParameterCount(4096), TokensPerSecond = 2_000, Device = "cpu", MachineName = Environment.MachineName });
                db.Benchmarks.Add(new PresetBenchmark { Preset = "tiny", VocabSize = 4096, Parameters = ModelPresets.Get("tiny").ParameterCount(4096), TokensPerSecond = 9_000, Device = "cpu", MachineName = Environment.MachineName });
                await db.SaveChangesAsync();
            }
            var measured = (await planner.PlanAsync("tiny-llama", lora: false))!;
            var flopsPerToken = FineTuneEstimate.ForBaseModelRun(config, lora: false).FlopsPerToken(config, lora: false);
            var expected = 1000.0 * measured.ExampleTokens / (6.0 * ModelPresets.Get("small").ParameterCount(4096) * 2_000 / flopsPerToken);
            Assert.Equal(expected, measured.SecondsPerThousandExamples!.Value, 6);

            // A machine smaller than the run: the plan says why and what to do, and starting the run is refused.
            planner.AvailableMemory = () => 100L << 20;
            var refused = (await planner.PlanAsync("tiny-llama", lora: false))!;
            Assert.False(refused.Fits);
            Assert.Contains("needs about", refused.Refusal);
            Assert.Contains("smaller base model", refused.Refusal);
            var project = await host.AddProjectAsync();
            await using (var db = await host.DbAsync())
            {
                var row = await db.Projects.FindAsync(project.Id);
                row!.BaseModelName = "tiny-llama";
                await db.SaveChangesAsync();
            }
            var error = await Assert.ThrowsAsync<UserFacingException>(() => host.Get<RunScheduler>().StartAsync(project.Id, "tester"));
            Assert.Equal(refused.Refusal, error.Message);
            await using (var db = await host.DbAsync())
                Assert.Empty(db.Runs.Where(r => r.ProjectId == project.Id));
        }
        finally
        {
            try { Directory.Delete(library, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_smaller_download_is_made_by_the_engine_and_offered_with_its_quality_check()
    {
        await using var host = await StudioTestHost.StartAsync();
        var paths = host.Get<StudioPaths>();
        const int runId = 41;
        var model = Directory.CreateDirectory(Path.Combine(paths.Run(runId), "model")).FullName;
        foreach (var file in Directory.GetFiles(Fixture("stories260K-hf")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var version = new ModelVersion { Id = 7, RunId = runId, Folder = "project-1/v1" };
        var exports = host.Get<VersionExports>();

        Assert.True(exports.Offers(version));
        Assert.True(exports.Status(version, WeightPrecision.Fp32).Ready);
        var before = exports.Status(version, WeightPrecision.Int8);
        Assert.False(before.Ready);
        Assert.Null(exports.DownloadableFiles(version, WeightPrecision.Int8));

        await exports.PrepareAsync(version, WeightPrecision.Int8);
        var after = exports.Status(version, WeightPrecision.Int8);
        Assert.Null(after.Problem);
        Assert.True(after.Ready, after.Quality);
        Assert.StartsWith("Quality check:", after.Quality);
        Assert.Contains("at most 1% allowed", after.Quality);
        var files = exports.DownloadableFiles(version, WeightPrecision.Int8)!;
        Assert.Contains("model.onnx", files.Keys);
        Assert.Equal("int8", Core.Artifacts.ArtifactManifest.Load(exports.FolderOf(version, WeightPrecision.Int8)).Precision);

        // A changed file makes the smaller download unavailable rather than served.
        File.AppendAllText(Path.Combine(exports.FolderOf(version, WeightPrecision.Int8), "model.onnx"), "x");
        Assert.False(exports.Status(version, WeightPrecision.Int8).Ready);
        Assert.Null(exports.DownloadableFiles(version, WeightPrecision.Int8));
    }
}
