using SlmStudio.Core.Training;
using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using SlmStudio.Web.Components.Pages.Home;
using SlmStudio.Web.Components.Pages.Playground;
using SlmStudio.Web.Components.Pages.Projects;
using SlmStudio.Web.Components.Pages.Runs;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Tests;

public sealed class ComponentTests : BunitContext, IAsyncLifetime
{
    private StudioTestHost _host = default!;

    public async Task InitializeAsync()
    {
        _host = await StudioTestHost.StartAsync();
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Services.AddSingleton(_host.Get<ProjectService>());
        Services.AddSingleton(_host.Get<RunService>());
        Services.AddSingleton(_host.Get<VersionVerdicts>());
        Services.AddSingleton(_host.Get<RunNotifier>());
        Services.AddSingleton(_host.Get<RunScheduler>());
        Services.AddSingleton(_host.Get<ModelRegistry>());
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public void Goal_tests_need_both_a_prompt_and_the_expected_text()
    {
        var saved = 0;
        var project = new Project { Name = "Handbook" };
        var cut = Render<GoalsStep>(p => p.Add(x => x.Project, project).Add(x => x.OnSaved, () => saved++));

        cut.Find("#add-goal-test").Click();
        cut.Find("#goal-prompt-0").Change("Holiday requests must be");
        cut.Find("#save-goals").Click();

        Assert.Contains("Each goal test needs both a prompt and the text it must contain", cut.Markup);
        Assert.Equal(0, saved);

        cut.Find("#goal-expect-0").Change("approved");
        cut.Find("#save-goals").Click();
        Assert.Equal(1, saved);
        Assert.Equal(("Holiday requests must be", "approved"), (project.GoalTests[0].Prompt, project.GoalTests[0].MustContain));
    }

    [Fact]
    public void Empty_goal_rows_are_dropped_and_a_name_is_required()
    {
        var project = new Project { Name = "  " };
        project.GoalTests.Add(new GoalTest { Prompt = "", MustContain = "" });
        Assert.Equal("Give the project a name.", GoalsStep.Validate(project));
        project.Name = "x";
        Assert.Null(GoalsStep.Validate(project));
    }

    [Fact]
    public void Home_page_invites_a_newcomer_to_create_a_project()
    {
        var cut = Render<Home>();
        cut.WaitForAssertion(() => Assert.Contains("No projects yet — create your first project", cut.Markup));
        Assert.NotNull(cut.Find("a[href='/projects/new']"));
    }

    [Fact]
    public void Playground_output_colours_each_token_by_confidence()
    {
        var state = new PlaygroundState();
        state.Start();
        state.Add("Hello", 0.9f);
        state.Add(" world", 0.1f);
        var cut = Render<OutputPanel>(p => p.Add(x => x.State, state).Add(x => x.Colour, true));

        var spans = cut.FindAll(".output-text span");
        Assert.Equal(["Hello", " world"], spans.Select(s => s.TextContent));
        Assert.Equal("90% sure", spans[0].GetAttribute("title")?.Replace("\u00a0", " "));
        Assert.Contains("hsla(108,", spans[0].GetAttribute("style"));
        Assert.Contains("hsla(12,", spans[1].GetAttribute("style"));
    }

    [Fact]
    public async Task Two_open_run_pages_both_follow_live_progress_and_unsubscribe_when_closed()
    {
        var project = await _host.AddProjectAsync("Live");
        int runId;
        await using (var db = await _host.DbAsync())
        {
            var run = new TrainingRun { ProjectId = project.Id, Status = RunStatus.Running, CreatedAt = DateTimeOffset.UtcNow, Preset = "tiny" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
        }
        var notifier = _host.Get<RunNotifier>();
        var first = Render<RunPage>(p => p.Add(x => x.Id, runId));
        var second = Render<RunPage>(p => p.Add(x => x.Id, runId));
        first.WaitForAssertion(() => Assert.Contains("Training run", first.Markup));
        Assert.Equal(2, notifier.SubscriberCount(runId));

        notifier.Publish(new RunUpdate(runId, TrainingEvent.Parse("""{"event":"step","step":7,"maxSteps":50,"loss":2.5,"lr":0.001,"tokensPerSecond":4321,"etaSeconds":90}""")));
        notifier.Publish(new RunUpdate(runId, TrainingEvent.Parse("""{"event":"eval","step":7,"valLoss":2.75,"perplexity":15.6,"bitsPerChar":1.9,"samples":[{"prompt":"The","text":"The kettle boils"}]}""")));

        foreach (var page in new[] { first, second })
            page.WaitForAssertion(() =>
            {
                var figures = page.Find("#run-figures").TextContent;
                Assert.Contains("7 of 50", figures);
                Assert.Contains("2.500", figures);
                Assert.Contains("2.750", figures);
                Assert.Contains("4,321", figures);
                Assert.Contains("The kettle boils", page.Find(".sample-text").TextContent);
                Assert.Equal("The", page.Find(".sample-prompt").TextContent); // where the prompt ends is visible
            });

        first.Instance.Dispose();
        Assert.Equal(1, notifier.SubscriberCount(runId));
    }

    [Fact]
    public async Task Steps_that_arrive_between_redraws_are_drawn_by_the_pages_own_timer()
    {
        var project = await _host.AddProjectAsync();
        int runId;
        await using (var db = await _host.DbAsync())
        {
            var run = new TrainingRun { ProjectId = project.Id, Status = RunStatus.Running, CreatedAt = DateTimeOffset.UtcNow, Preset = "tiny" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
        }
        var notifier = _host.Get<RunNotifier>();
        var page = Render<RunPage>(p => p.Add(x => x.Id, runId));
        page.WaitForAssertion(() => Assert.Contains("Training run", page.Markup));

        // The first step redraws at once; the next, right behind it, waits for the deferred redraw, and nothing
        // else arrives to trigger one.
        notifier.Publish(new RunUpdate(runId, TrainingEvent.Parse("""{"event":"step","step":7,"maxSteps":50,"loss":2.5,"lr":0.001,"tokensPerSecond":10,"etaSeconds":9}""")));
        page.WaitForAssertion(() => Assert.Contains("7 of 50", page.Find("#run-figures").TextContent), TimeSpan.FromSeconds(10));
        notifier.Publish(new RunUpdate(runId, TrainingEvent.Parse("""{"event":"step","step":8,"maxSteps":50,"loss":2.4,"lr":0.001,"tokensPerSecond":10,"etaSeconds":8}""")));
        page.WaitForAssertion(() => Assert.Contains("8 of 50", page.Find("#run-figures").TextContent), TimeSpan.FromSeconds(10));

        page.Instance.Dispose();
        Assert.Equal(0, notifier.SubscriberCount(runId));
    }
}

public sealed class DataStepComponentTests : BunitContext, IAsyncLifetime
{
    /// <summary>Reading files runs child processes; on a busy shared machine that takes far longer than it should, and
    /// this only bounds how long a broken page is waited for.</summary>
    private static readonly TimeSpan ReadingFiles = TimeSpan.FromMinutes(3);

    private StudioTestHost _host = default!;

    public async Task InitializeAsync()
    {
        _host = await StudioTestHost.StartAsync();
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Services.AddSingleton(_host.Get<DataUploads>());
        Services.AddSingleton(_host.Get<DataPreparation>());
        Services.AddSingleton(_host.Get<DataNotifier>());
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Data_step_shows_pushed_extraction_progress_then_the_files_with_their_problems()
    {
        var project = await _host.AddProjectAsync();
        var uploads = _host.Get<DataUploads>();
        await uploads.SaveAsync(project.Id, "policy.txt", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(DataDocuments.Prose("leave", 30))), default);
        await uploads.SaveAsync(project.Id, "numbers.csv", new MemoryStream("a,b\n1,2\n3,4"u8.ToArray()), default);
        var notifier = _host.Get<DataNotifier>();

        // Files left waiting are picked up by the page itself (as after a restart) and read in the background.
        var cut = Render<DataStep>(p => p.Add(x => x.ProjectId, project.Id));
        cut.WaitForAssertion(() =>
        {
            Assert.Empty(cut.FindAll("#extract-progress"));
            var failed = cut.Find(".data-file[data-status='Failed']").TextContent;
            Assert.Contains("numbers.csv", failed);
            Assert.Contains("No column of this file holds text", failed);
            Assert.Contains("1 of 2 usable", cut.Find("#data-stats").TextContent);
        }, ReadingFiles);

        // Progress pushed by an extraction shows as a bar with the file being read, and goes when it is finished.
        notifier.Publish(new DataUpdate(project.Id, new Core.Data.DataProgress("extract", 3, 10, "big.pdf")));
        cut.WaitForAssertion(() => Assert.Contains("Reading the files: 3 of 10 done (now: big.pdf)", cut.Find("#extract-progress").TextContent));
        Assert.True(cut.Find("#data-review").HasAttribute("disabled"));
        notifier.Publish(new DataUpdate(project.Id, null, FilesChanged: true, Finished: true));
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#extract-progress")));
        Assert.False(cut.Find("#data-review").HasAttribute("disabled"));

        cut.Find("#data-review").Click();
        cut.WaitForAssertion(() => Assert.Contains("No emails, phone numbers", cut.Find("#review-redactions").TextContent));
        Assert.NotNull(cut.Find("#data-continue"));
    }

    [Fact]
    public async Task Files_picked_on_the_data_step_are_stored_or_refused_with_the_reason()
    {
        var project = await _host.AddProjectAsync();
        var cut = Render<DataStep>(p => p.Add(x => x.ProjectId, project.Id));
        cut.WaitForAssertion(() => Assert.Contains("No documents yet", cut.Markup));

        cut.FindComponent<Microsoft.AspNetCore.Components.Forms.InputFile>().UploadFiles(
            InputFileContent.CreateFromText(DataDocuments.Prose("returns", 20), "returns.txt"),
            InputFileContent.CreateFromBinary([0x4D, 0x5A, 0x90, 0, 3, 0, 0, 0], "tool.exe"));

        cut.WaitForAssertion(() =>
        {
            Assert.Contains("tool.exe", cut.Find("#upload-problems").TextContent);
            Assert.Contains("returns.txt", cut.Find("#data-files").TextContent);
        }, ReadingFiles);
        Assert.Single(await _host.Get<DataUploads>().FilesAsync(project.Id));
    }
}
