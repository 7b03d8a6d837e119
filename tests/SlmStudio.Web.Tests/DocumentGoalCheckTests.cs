using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using SlmStudio.Core.Export;
using SlmStudio.Core.Retrieval;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>The playground's goal check: a project's goal tests run against a real frozen data version on SQLite.</summary>
public sealed class DocumentGoalCheckTests
{
    private const string HolidayQuestion = "How many days of paid holiday do full-time employees get?";
    private const string LlamaQuestion = "Can I bring my pet llama to the office?";

    private static async Task<(StudioTestHost Host, int ProjectId, DatasetVersionRecord Dataset)> FrozenProjectAsync()
    {
        var host = await StudioTestHost.StartAsync();
        // The handbook says "26 days of paid holiday"; no passage says "llama permit". The half-written goal test is skipped.
        var project = await host.AddProjectAsync("Brightwater", (HolidayQuestion, "26 days"), (LlamaQuestion, "llama permit"), ("Who runs payroll?", " "));
        Assert.True(await host.Get<DataUploads>().AddSampleDataAsync(project.Id, default) > 0);
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");
        var dataset = (await host.Get<DocumentSearch>().DatasetOfAsync(project.Id))!;
        return (host, project.Id, dataset);
    }

    private sealed class Recorder : IProgress<WordGoalProgress>
    {
        public List<WordGoalProgress> Seen { get; } = [];
        public void Report(WordGoalProgress value) { lock (Seen) Seen.Add(value); }
    }

    [Fact]
    public async Task The_goal_tests_score_recall_of_passages_holding_the_expected_words_on_the_chosen_data_version()
    {
        var (host, projectId, dataset) = await FrozenProjectAsync();
        await using var owned = host;
        var search = host.Get<DocumentSearch>();

        Assert.Equal([new WordGoal(HolidayQuestion, "26 days"), new WordGoal(LlamaQuestion, "llama permit")], await search.WordGoalsOfAsync(projectId));
        Assert.Equal([dataset.Id], (await search.DatasetVersionsOfAsync(projectId)).Select(d => d.Id));
        Assert.Empty(await search.AnsweringVersionsOfAsync(projectId));

        var progress = new Recorder();
        var report = await search.CheckGoalTestsAsync(projectId, dataset.Id, null, progress);

        var (holiday, llama) = (report.Questions[0], report.Questions[1]);
        Assert.Equal(1, holiday.Rank);
        Assert.Contains("26 days of paid holiday", holiday.Hits[0].Passage.Text);
        Assert.Equal("employee-handbook.md", holiday.Hits[0].Passage.File);
        Assert.Null(llama.Rank);
        Assert.Equal(0.5, report.RecallAt(1), 10);
        Assert.Equal(0.5, report.RecallAt(3), 10);
        Assert.Equal(0.5, report.RecallAt(5), 10);
        Assert.False(report.AnswersWritten);
        Assert.All(report.Questions, q => Assert.Null(q.Answer));
        Assert.Equal([new(1, 2, false), new(2, 2, false)], progress.Seen);

        var wrongData = await Assert.ThrowsAsync<UserFacingException>(() => search.CheckGoalTestsAsync(projectId, dataset.Id + 99, null));
        Assert.Contains("data version", wrongData.Message);
        var other = await host.AddProjectAsync("No goals");
        var noGoals = await Assert.ThrowsAsync<UserFacingException>(() => search.CheckGoalTestsAsync(other.Id, dataset.Id, null));
        Assert.Equal(DocumentSearch.NoGoalTestsMessage, noGoals.Message);
    }

    [Fact]
    public async Task A_model_version_too_small_to_read_a_passage_stops_the_check_with_a_plain_message()
    {
        var (host, projectId, dataset) = await FrozenProjectAsync();
        await using var owned = host;
        TrainingRun run;
        await using (var db = await host.DbAsync())
        {
            run = new TrainingRun { ProjectId = projectId, CreatedBy = "tester" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
        }
        var staged = Path.Combine(host.Root, "staged");
        ModelExporter.Export(Path.Combine(TestFixtures(), "stories260K-hf"), staged);
        var version = await host.Get<ModelRegistry>().RegisterAsync(run, staged, _ => Task.CompletedTask);
        var search = host.Get<DocumentSearch>();
        Assert.Equal([version.Id], (await search.AnsweringVersionsOfAsync(projectId)).Select(v => v.Id));

        // The fixture models read at most 512 tokens, fewer than the prompt with one of the sample handbook's passages:
        // the check reaches the first answer, then stops with a message that says what to do instead of a stack trace.
        var progress = new Recorder();
        var tooSmall = await Assert.ThrowsAsync<UserFacingException>(() => search.CheckGoalTestsAsync(projectId, dataset.Id, version.Id, progress));
        Assert.Contains("512 tokens", tooSmall.Message);
        Assert.Contains("Use a model with a longer context", tooSmall.Message);
        Assert.Equal([new(1, 2, false), new(1, 2, true)], progress.Seen);

        // Without written answers the same version's data still gets its passages scored.
        var passagesOnly = await search.CheckGoalTestsAsync(projectId, dataset.Id, null);
        Assert.Equal(0.5, passagesOnly.RecallAt(3), 10);
    }

    [Fact]
    public async Task The_panel_runs_the_goal_tests_and_shows_the_rule_the_figures_and_a_row_per_question()
    {
        var (host, projectId, _) = await FrozenProjectAsync();
        await using var owned = host;
        await using var page = new BunitContext();
        page.JSInterop.Mode = JSRuntimeMode.Loose;
        page.Services.AddMudServices();
        page.Services.AddSingleton(host.Get<DocumentSearch>());
        page.Render<MudPopoverProvider>();
        var cut = page.Render<Components.Pages.Playground.DocumentGoalCheck>(p => p.Add(x => x.ProjectId, projectId));

        cut.Find("#goal-check .mud-expand-panel-header").Click();
        cut.WaitForAssertion(() => Assert.Contains("A passage counts as right when its text contains every expected word", cut.Find("#goal-check-rule").TextContent));
        cut.Find("#goal-check-run").Click();
        cut.WaitForAssertion(() => Assert.Equal("50%", cut.Find("#goal-check-r3").TextContent), TimeSpan.FromMinutes(2));
        var rows = cut.FindAll("#goal-check-table tbody tr");
        Assert.Equal(2, rows.Count);
        Assert.Contains("number 1", rows[0].TextContent);
        Assert.Contains("employee-handbook.md", rows[0].TextContent);
        Assert.Contains("not found", rows[1].TextContent);
        Assert.Empty(cut.FindAll("#goal-check-contains"));
        // No answers were written, so the chart has no empty answer bars; its description says why.
        var chart = cut.Find("#goal-check-chart");
        Assert.Contains("In the first 5", chart.QuerySelector("svg")!.TextContent);
        Assert.DoesNotContain("Answer has the words", chart.QuerySelector("svg")!.TextContent);
        Assert.Contains("Answer has the words: no answers written", chart.GetAttribute("aria-label"));
    }

    private static string TestFixtures()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return Path.Combine(dir.Parent!.FullName, "shared", "fixtures");
        throw new InvalidOperationException("Run the tests from inside the repository.");
    }
}
