using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Training;
using SlmStudio.Core.Verdicts;
using SlmStudio.Web.Components.Pages.Runs;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>Verdicts from stored measurements, the production default that follows them, and the words the projects
/// page and jobs list show, over the portal's real composition and SQLite.</summary>
public class VerdictAndStatusTests
{
    [Fact]
    public async Task A_version_no_better_than_the_baseline_is_registered_but_not_made_production_and_a_usable_one_is()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync("Handbook");

        var weak = await RegisterAsync(host, project.Id, valLoss: 6.4, baseline: 6.2);
        var registry = host.Get<ModelRegistry>();
        var runs = host.Get<RunService>();
        var weakVerdict = (await runs.VerdictsAsync([weak]))[weak.Id];
        Assert.Equal(VerdictLevel.NotUsefulYet, weakVerdict.Level);
        Assert.Contains("no better than", weakVerdict.Why);
        Assert.DoesNotContain((await registry.ContentsAsync()).Aliases, a => a.Name == ModelRegistry.Production);
        Assert.Equal("Trained: v1, not in production", (await host.Get<ProjectService>().ListAsync()).Single().Status);

        var better = await RegisterAsync(host, project.Id, valLoss: 3.1, baseline: 6.2);
        Assert.Equal(VerdictLevel.UsableForDrafts, (await runs.VerdictsAsync([better]))[better.Id].Level);
        var production = Assert.Single((await registry.ContentsAsync()).Aliases, a => a.Name == ModelRegistry.Production);
        Assert.Equal(better.Id, production.ModelVersionId);
        Assert.Equal("Trained: v2 in production", (await host.Get<ProjectService>().ListAsync()).Single().Status);

        // A later version never moves production by itself: a person chose it (or accepted the first usable one).
        var third = await RegisterAsync(host, project.Id, valLoss: 2.9, baseline: 6.2);
        Assert.Equal(better.Id, Assert.Single((await registry.ContentsAsync()).Aliases).ModelVersionId);
        Assert.Equal("Trained: v2 in production, v3 newest", (await host.Get<ProjectService>().ListAsync()).Single().Status);
        Assert.NotEqual(third.Id, better.Id);
    }

    [Fact]
    public async Task Project_cards_say_where_a_project_stands_in_words()
    {
        await using var host = await StudioTestHost.StartAsync();
        var projects = host.Get<ProjectService>();
        var project = new Project { Name = "Support replies" };
        await projects.SaveAsync(project, 2);
        Assert.Equal("Setting up: architecture (step 3 of 5)", (await projects.ListAsync()).Single().Status);

        await using (var db = await host.DbAsync())
        {
            db.Runs.Add(new TrainingRun { ProjectId = project.Id, Status = RunStatus.Running, CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        Assert.Equal("Training now", (await projects.ListAsync()).Single().Status);
    }

    [Fact]
    public void A_run_that_used_its_time_budget_is_complete_and_says_why_it_stopped()
    {
        var run = new TrainingRun { Status = RunStatus.Succeeded, Step = 72, MaxSteps = 97 };
        string[] messages = ["Measured 1,500 tokens/s: 97 steps fit in the 5-minute budget.", "The time budget was used up at step 72 of 97; finishing now."];

        Assert.Equal(100, RunProgress.Percent(run));
        Assert.Equal("100%", RunProgress.Label(run));
        Assert.Equal("Finished early: the time budget was used up at step 72 of 97; finishing now.", RunProgress.StopReason(run, messages));
        Assert.Equal("Finished: all 97 planned steps were trained.", RunProgress.StopReason(run, messages[..1]));

        var running = new TrainingRun { Status = RunStatus.Running, Step = 36, MaxSteps = 97 };
        Assert.Equal("37%", RunProgress.Label(running));
        Assert.Null(RunProgress.StopReason(running, messages));
        Assert.Contains("tokenizer", RunProgress.Preparing(new TrainingRun { Status = RunStatus.Running }));
    }

    [Fact]
    public void A_run_on_a_short_text_says_while_it_trains_and_after_that_it_finishes_before_its_budget()
    {
        var limit = SlmStudio.Core.Training.ReadingLimit.Explain(300, 34.2, 35_957, budgetMinutes: 5, expectedMinutes: 1.6);
        string[] messages = ["Training a 1,024-token tokenizer on 86,634 characters.", limit, "This run will read its training text about 34 times ..."];

        var running = RunProgress.StopReason(new TrainingRun { Status = RunStatus.Running, Step = 40, MaxSteps = 300 }, messages);
        Assert.StartsWith("Will finish early: the training text is too small for the whole time budget (35,957 tokens): 300 steps read it about 34 times", running);
        Assert.Contains("in about 2 of its 5 minutes", running);
        Assert.StartsWith("Finished early: the training text is too small for the whole time budget", RunProgress.StopReason(new TrainingRun { Status = RunStatus.Succeeded, Step = 300, MaxSteps = 300 }, messages));
    }

    [Fact]
    public void Loss_charts_fit_the_axis_to_the_data_and_draw_a_single_point()
    {
        var options = RunProgress.ChartOptions([7.9, 6.1, 4.2, 3.4]);
        Assert.False(options.YAxisRequireZeroPoint);
        Assert.Equal(1, options.YAxisTicks); // not MudBlazor's default of 20, which squashed curves onto a 0–20 axis
        Assert.True(RunProgress.ChartOptions([5.2]).ShowDataMarkers);
    }

    [Fact]
    public void Dates_are_unambiguous()
    {
        var text = Components.Shared.Format.When(new DateTimeOffset(2026, 12, 1, 14, 5, 0, TimeSpan.Zero));
        Assert.Matches(@"^\d{1,2} Dec 2026, \d\d:\d\d$", text);
    }

    /// <summary>A run in the state export leaves it (an exported folder with a manifest, a started event with the
    /// baseline), registered by the real <see cref="RegisterJob"/>.</summary>
    private static async Task<ModelVersion> RegisterAsync(StudioTestHost host, int projectId, double valLoss, double baseline)
    {
        TrainingRun run;
        await using (var db = await host.DbAsync())
        {
            run = new TrainingRun { ProjectId = projectId, Status = RunStatus.Exporting, CreatedAt = DateTimeOffset.UtcNow, ValLoss = valLoss, MaxSteps = 10, Step = 10 };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            var started = new TrainingStarted("tiny", 1000, 10, 0, "cpu", 1024, 64, 8, TrainTokens: 5_000_000, 500_000, 1e-3, null, baseline);
            var finished = new TrainingFinished(10, valLoss, Math.Exp(valLoss), 1.5, false, "model", 60, TokensSeen: 100_000_000, baseline);
            db.RunEvents.AddRange(
                new RunEvent { RunId = run.Id, Kind = started.Kind, Json = started.ToJsonLine(), At = DateTimeOffset.UtcNow },
                new RunEvent { RunId = run.Id, Kind = finished.Kind, Json = finished.ToJsonLine(), At = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var export = RunFolder.At(host.Get<StudioPaths>().Run(run.Id)).ExportDirectory;
        Directory.CreateDirectory(export);
        File.WriteAllText(Path.Combine(export, "config.json"), """{"hidden_size":64}""");
        new ArtifactManifest { Files = ArtifactManifest.Describe(export, ["config.json"]) }.Save(export);

        await host.Get<RegisterJob>().RunAsync(run.Id, CancellationToken.None);

        await using var check = await host.DbAsync();
        var registered = await check.Runs.SingleAsync(r => r.Id == run.Id);
        Assert.Equal(RunStatus.Succeeded, registered.Status);
        return await check.ModelVersions.SingleAsync(v => v.Id == registered.ModelVersionId);
    }
}
