using System.Text.Json;
using SlmStudio.Core.Artifacts;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>The services the pages call instead of the database, over the portal's real composition and SQLite.</summary>
public class PageServicesTests
{
    [Fact]
    public async Task Saving_the_wizard_merges_goal_tests_and_keeps_the_data_steps_switches()
    {
        await using var host = await StudioTestHost.StartAsync();
        var projects = host.Get<ProjectService>();

        var project = new Project { Name = "Handbook" };
        project.GoalTests.AddRange([new GoalTest { Prompt = "Holidays are", MustContain = "approved" }, new GoalTest { Prompt = "Kettles", MustContain = "boil" }]);
        await projects.SaveAsync(project, 1);
        Assert.True(project.Id > 0);

        // The data step turns redaction off while the wizard still holds its older copy of the project.
        var wizardCopy = (await projects.OpenAsync(project.Id))!.Project;
        await host.Get<DataPreparation>().SetOptionsAsync(project.Id, redactPersonalData: false, removeDuplicates: true);

        wizardCopy.GoalTests.RemoveAll(g => g.Prompt == "Kettles");
        wizardCopy.GoalTests[0].MustContain = "granted";
        wizardCopy.GoalTests.Add(new GoalTest { Prompt = "Returns take", MustContain = "days" });
        wizardCopy.Description = "Staff rules";
        await projects.SaveAsync(wizardCopy, 3);

        var opened = await projects.OpenAsync(project.Id);
        Assert.NotNull(opened);
        Assert.False(opened.HasRun);
        Assert.Equal((3, "Staff rules", false), (opened.Project.WizardStep, opened.Project.Description, opened.Project.RedactPersonalData));
        Assert.Equal([("Holidays are", "granted"), ("Returns take", "days")],
            opened.Project.GoalTests.OrderBy(g => g.Id).Select(g => (g.Prompt, g.MustContain)));

        // A step reached earlier is never forgotten by saving an earlier step again.
        await projects.SaveAsync(opened.Project, 1);
        Assert.Equal(3, (await projects.ListAsync()).Single().WizardStep);
        Assert.Null(await projects.OpenAsync(project.Id + 100));
    }

    [Fact]
    public async Task Baselines_come_from_each_runs_started_event()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        int withBaseline, without;
        await using (var db = await host.DbAsync())
        {
            var a = new TrainingRun { ProjectId = project.Id, CreatedAt = DateTimeOffset.UtcNow };
            var b = new TrainingRun { ProjectId = project.Id, CreatedAt = DateTimeOffset.UtcNow };
            db.Runs.AddRange(a, b);
            await db.SaveChangesAsync();
            (withBaseline, without) = (a.Id, b.Id);
            db.RunEvents.AddRange(
                new RunEvent { RunId = a.Id, Kind = "started", Json = """{"event":"started","preset":"tiny","baselineValLoss":5.25}""" },
                new RunEvent { RunId = b.Id, Kind = "started", Json = """{"event":"started","preset":"tiny","baselineValLoss":0}""" },
                new RunEvent { RunId = a.Id, Kind = "step", Json = """{"event":"step","step":1,"maxSteps":9,"loss":6.5}""" });
            await db.SaveChangesAsync();
        }
        var runs = host.Get<RunService>();

        var baselines = await runs.BaselineValLossesAsync([withBaseline, without]);

        Assert.Equal(new Dictionary<int, double> { [withBaseline] = 5.25 }, baselines);
        Assert.Equal([without, withBaseline], (await runs.OfProjectAsync(project.Id)).Select(r => r.Id));
        Assert.Equal(6.5, Assert.IsType<Core.Training.TrainingStep>(Assert.Single(await runs.CurveEventsAsync(withBaseline))).Loss);
    }

    [Fact]
    public async Task The_registry_records_the_exporters_manifest_and_refuses_files_changed_after_export()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync("Kettle Co");
        TrainingRun run;
        await using (var db = await host.DbAsync())
        {
            run = new TrainingRun { ProjectId = project.Id, CreatedAt = DateTimeOffset.UtcNow, CreatedBy = "tester" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
        }
        var registry = host.Get<ModelRegistry>();

        var tampered = StagedArtifact(host.Root, "tampered");
        File.AppendAllText(Path.Combine(tampered, "weights.bin"), "x");
        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => registry.RegisterAsync(run, tampered));
        Assert.Contains("weights.bin", refused.Message);
        Assert.DoesNotContain("config.json", refused.Message);

        var version = await registry.RegisterAsync(run, StagedArtifact(host.Root, "good"));

        var manifest = ArtifactManifest.Load(registry.FolderOf(version));
        Assert.Equal(manifest.Files.ToDictionary(f => f.Path, f => f.Sha256), JsonSerializer.Deserialize<Dictionary<string, string>>(version.ManifestJson));
        Assert.StartsWith("Passed: ONNX and training model logits differ by at most 0.002", version.ParityResult);
        Assert.Empty(registry.Verify(version));
        // The exporter could not know the version number; the registered card is titled with it and still verifies.
        Assert.Equal(["# Kettle Co — version 1", "", "A small model."], File.ReadAllLines(Path.Combine(registry.FolderOf(version), "README.md")));
        Assert.Equal("Kettle Co — version 1", Assert.Single(await registry.ChoicesAsync()).Label);
        Assert.Equal("Kettle Co", (await registry.FindAsync(version.Id))!.Project!.Name);

        File.WriteAllText(Path.Combine(registry.FolderOf(version), "config.json"), "{}");
        Assert.Equal(["config.json"], registry.Verify(version));
    }

    /// <summary>A folder shaped like the exporter's output: files and a manifest.json that lists them with their hashes.</summary>
    private static string StagedArtifact(string root, string name)
    {
        var dir = Path.Combine(root, "staged", name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"hidden_size":64}""");
        File.WriteAllBytes(Path.Combine(dir, "weights.bin"), [1, 2, 3, 4, 5]);
        File.WriteAllText(Path.Combine(dir, "README.md"), "# export\n\nA small model.\n");
        new ArtifactManifest
        {
            Files = ArtifactManifest.Describe(dir, ["config.json", "weights.bin", "README.md"]),
            Parity = new ParityReport("torchsharp", 0.01, 0.001, 0.002, true, true, []),
        }.Save(dir);
        return dir;
    }
}
