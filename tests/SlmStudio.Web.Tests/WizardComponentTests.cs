using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using SlmStudio.Core.Models;
using SlmStudio.Web.Components.Pages.Projects;
using SlmStudio.Web.Components.Pages.Runs;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Tests;

/// <summary>What a newcomer met in the wizard and on the run page, rendered with bUnit over the real services.</summary>
public sealed class WizardComponentTests : BunitContext, IAsyncLifetime
{
    private StudioTestHost _host = default!;

    public async Task InitializeAsync()
    {
        _host = await StudioTestHost.StartAsync();
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        foreach (var type in new[] { typeof(ProjectService), typeof(RunService), typeof(RunNotifier), typeof(RunScheduler), typeof(ModelRegistry), typeof(PresetBenchmarks), typeof(DataUploads), typeof(DataPreparation), typeof(DataNotifier), typeof(ClassifierReports), typeof(ChatReports), typeof(VersionVerdicts), typeof(BaseModelCatalog), typeof(MachineLoadProbe) })
            Services.AddSingleton(type, _host.Services.GetRequiredService(type));
        // Recommendations from measured speeds depend on how busy the machine is; these tests fix it as quiet.
        _host.Get<MachineLoadProbe>().Read = () => new MachineLoad(0, 2);
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public void The_name_warning_goes_away_once_a_name_is_typed()
    {
        var project = new Project { Name = "" };
        var cut = Render<GoalsStep>(p => p.Add(x => x.Project, project));
        cut.Find("#save-goals").Click();
        cut.WaitForAssertion(() => Assert.Contains("Give the project a name.", cut.Markup));

        cut.Find("input#project-name").Input("Staff handbook");
        cut.WaitForAssertion(() => Assert.DoesNotContain("Give the project a name.", cut.Markup));
        Assert.Equal("Staff handbook", project.Name);
    }

    [Fact]
    public async Task Each_wizard_step_has_its_own_address()
    {
        var nav = Services.GetRequiredService<NavigationManager>();
        var cut = Render<Wizard>();
        cut.WaitForAssertion(() => cut.Find("input#project-name"));
        cut.Find("input#project-name").Input("Kettle Co");
        cut.Find("#save-goals").Click();
        cut.WaitForAssertion(() => Assert.Matches(@"/projects/\d+/data$", nav.Uri));

        // An address names its step, and an old ?step= bookmark still opens the right one.
        var id = int.Parse(nav.Uri.Split('/')[^2]);
        var projects = _host.Get<ProjectService>();
        await projects.SaveAsync((await projects.OpenAsync(id))!.Project, 3);
        Assert.Equal($"/projects/{id}/evaluation", Wizard.UrlOf(id, 4));
        var evaluation = Render<Wizard>(p => p.Add(x => x.Id, id).Add(x => x.StepName, "evaluation"));
        evaluation.WaitForAssertion(() => Assert.Contains("No versions yet", evaluation.Markup));
        Assert.Equal(4, ProjectService.StepIndex("Evaluation"));
        Assert.Null(ProjectService.StepIndex("nowhere"));
    }

    [Fact]
    public async Task Training_step_recommends_a_time_from_the_measured_speed_and_warns_about_one_minute_and_little_text()
    {
        var project = await _host.AddProjectAsync("Handbook");
        await using (var db = await _host.DbAsync())
        {
            db.DataFiles.Add(new DataFile { ProjectId = project.Id, OriginalName = "handbook.md", StoredName = "1.md", Status = DataFileStatus.Ready,
                Characters = 100_000, EstimatedTokens = 30_000, Records = 40, Sha256 = "ab", UploadedAt = DateTimeOffset.UtcNow });
            db.Benchmarks.Add(new PresetBenchmark { Preset = "tiny", VocabSize = 1024, Parameters = ModelPresets.Get("tiny").ParameterCount(1024), TokensPerSecond = 1_000, MachineName = Environment.MachineName, MeasuredAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        project.Preset = "tiny";
        project.VocabSize = 1024;
        project.TimeBudgetMinutes = 1;

        // Where a run from scratch on this text stops by itself: the floor of 300 tiny steps of 16 x 256 tokens
        // (1,228,800 tokens, more than 30 readings of 30,000) takes 21 minutes at 1,000 tokens/s.
        var cut = Render<TrainingStep>(p => p.Add(x => x.Project, project));
        cut.WaitForAssertion(() => Assert.Contains("about 21 minutes", cut.Find("#time-recommendation").TextContent));
        Assert.Contains("too short to learn anything", cut.Find("#time-warning").TextContent);
        Assert.Contains("base model", cut.Find("#too-little-text-training").TextContent);

        cut.Find("#use-recommended").Click();
        Assert.Equal(21, project.TimeBudgetMinutes);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#time-warning")));
        Assert.Empty(cut.FindAll("#training-load"));

        // The same server, busy with other work (load 6 on 2 cores): a run gets a quarter of the measured speed, so the
        // recommendation is longer and the page says why.
        _host.Get<MachineLoadProbe>().Read = () => new MachineLoad(6, 2);
        var busy = Render<TrainingStep>(p => p.Add(x => x.Project, project));
        busy.WaitForAssertion(() => Assert.Contains("busy right now (load 6.0 on 2 processor cores)", busy.Find("#training-load").TextContent));
        Assert.DoesNotContain("about 21 minutes", busy.Find("#time-recommendation").TextContent);
    }

    [Fact]
    public async Task A_run_says_what_it_is_doing_before_its_first_step()
    {
        var project = await _host.AddProjectAsync("Warm-up");
        int runId;
        await using (var db = await _host.DbAsync())
        {
            var run = new TrainingRun { ProjectId = project.Id, Status = RunStatus.Running, CreatedAt = DateTimeOffset.UtcNow, Preset = "tiny" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
        }
        var page = Render<RunPage>(p => p.Add(x => x.Id, runId));
        page.WaitForAssertion(() => Assert.Contains("tokenizer", page.Find("#run-preparing").TextContent));
        Assert.DoesNotContain("0 / ?", page.Markup);
        page.Instance.Dispose();
    }
}
