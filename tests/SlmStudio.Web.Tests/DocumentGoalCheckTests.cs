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
    public async Task With_a_model_version_each_searched_question_gets_a_written_answer_scored_by_the_same_rule()
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
        ModelExporter.Export(Path.Combine(TestFixtures(), "tiny-llama-hf"), staged);
        var version = await host.Get<ModelRegistry>().RegisterAsync(run, staged, _ => Task.CompletedTask);
        var search = host.Get<DocumentSearch>();
        Assert.Equal([version.Id], (await search.AnsweringVersionsOfAsync(projectId)).Select(v => v.Id));

        var progress = new Recorder();
        var report = await search.CheckGoalTestsAsync(projectId, dataset.Id, version.Id, progress);

        Assert.True(report.AnswersWritten);
        Assert.Equal(0.5, report.RecallAt(3), 10);
        var holiday = report.Questions[0];
        Assert.NotNull(holiday.Answer);
        Assert.Contains(new WordGoalProgress(1, 2, true), progress.Seen);
        // The tiny test model writes noise: whatever it wrote is scored by the Core rule, and the shares follow from the rows.
        Assert.Equal(AnswerEvaluation.ContainsWords(holiday.Answer!, "26 days"), holiday.ContainsExpected);
        foreach (var q in report.Questions.Where(q => q.Answer is null)) Assert.False(q.AnswerPasses);
        Assert.Equal(report.Questions.Count(q => q.ContainsExpected) / 2.0, report.ContainsExpectedRate, 10);
        Assert.Equal(report.Questions.Count(q => q.CitesRightPassage) / 2.0, report.CitesRightPassageRate, 10);
    }

    private static string TestFixtures()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) return Path.Combine(dir.Parent!.FullName, "shared", "fixtures");
        throw new InvalidOperationException("Run the tests from inside the repository.");
    }
}
