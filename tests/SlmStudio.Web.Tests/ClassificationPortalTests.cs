using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Data;
using SlmStudio.Core.Verdicts;
using SlmStudio.Web.Api;
using SlmStudio.Web.Components.Pages.Classification;
using SlmStudio.Web.Components.Pages.Projects;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Tests;

/// <summary>
/// "Sort and route" through the portal: the first step offers it, the data step reviews labels, the training job starts
/// <c>slm train --task classify</c> on the frozen dataset version, and the registered classifier shows its figures, is
/// used by the playground's batch files and answers <c>POST /api/projects/{id}/classify</c> under the sign-in rules.
/// </summary>
public sealed class ClassificationPortalTests : BunitContext, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's services dispose only asynchronously.
    public new async Task DisposeAsync() => await base.DisposeAsync();

    private static readonly string[] Labels = ["billing", "delivery", "account"];
    private static readonly string[][] Keywords =
    [
        ["invoice", "charged twice", "payment failed", "refund", "bill"],
        ["parcel", "tracking number", "courier", "shipping", "package"],
        ["password", "log in", "username", "sign in", "locked out"],
    ];

    /// <summary>"message,team" rows: filler shared by every label around one label's words (chance is a third).</summary>
    public static string TicketsCsv(int perLabel, int seed)
    {
        string[] openers = ["hi", "hello", "please help", "good morning", "hey team", ""];
        string[] middles = ["i have a question about my", "there is a problem with the", "can you check the", "i need help with the"];
        string[] closers = ["thanks", "asap please", "today, it is urgent", "", "regards"];
        var random = new Random(seed);
        var csv = new StringBuilder("message,team\n");
        for (int i = 0; i < perLabel; i++)
            for (int l = 0; l < Labels.Length; l++)
            {
                string Pick(string[] words) => words[random.Next(words.Length)];
                var text = string.Join(' ', new[] { Pick(openers), Pick(middles), Pick(Keywords[l]), Pick(closers) }.Where(w => w.Length > 0));
                csv.Append('"').Append(text).Append("\",").Append(Labels[l]).Append('\n');
            }
        return csv.ToString();
    }

    [Fact]
    public void Training_arguments_carry_the_task_the_frozen_columns_the_library_base_model_and_adapters()
    {
        var classify = new TrainingRun { Task = TrainingTasks.Classify, Preset = "tiny", VocabSize = 512, MaxStepsSetting = 6, Seed = 3 };
        var args = TrainingJob.BuildArguments(classify, "/datasets/abc", "/runs/1", resume: true, baseModel: null);
        Assert.Equal(["--task", "classify"], After(args, "--task", 1));
        Assert.Equal("text", After(args, "--text-column", 1)[1]);
        Assert.Equal("label", After(args, "--label-column", 1)[1]);
        Assert.Equal("tiny", After(args, "--preset", 1)[1]);
        Assert.DoesNotContain("--resume", args); // a classification run starts over; the engine cannot resume one
        Assert.DoesNotContain("--lora", args);

        var fromLibrary = new TrainingRun { Task = TrainingTasks.Classify, Preset = "tiny", VocabSize = 512, BaseModelName = "smollm2-135m", UseLora = true };
        var baseArgs = TrainingJob.BuildArguments(fromLibrary, "/d", "/r", resume: false, baseModel: "smollm2-135m", library: "/srv/models/base");
        Assert.Equal("smollm2-135m", After(baseArgs, "--base", 1)[1]);
        Assert.Equal("/srv/models/base", After(baseArgs, "--library", 1)[1]);
        Assert.Contains("--lora", baseArgs);
        Assert.DoesNotContain("--preset", baseArgs); // the base model fixes the size and the tokenizer
        Assert.DoesNotContain("--vocab-size", baseArgs);

        // A registered version is a folder, not a library name: no --library; text runs get no --task at all.
        var fromVersion = new TrainingRun { Task = TrainingTasks.Text, Preset = "tiny", BaseVersionId = 4 };
        var versionArgs = TrainingJob.BuildArguments(fromVersion, "/d", "/r", resume: false, baseModel: "/runs/7/model", library: "/srv/models/base");
        Assert.DoesNotContain("--library", versionArgs);
        Assert.DoesNotContain("--task", versionArgs);
        Assert.DoesNotContain("--text-column", versionArgs);
    }

    private static string[] After(IReadOnlyList<string> args, string option, int count)
    {
        var i = args.ToList().IndexOf(option);
        Assert.True(i >= 0, $"{option} missing from: {string.Join(' ', args)}");
        return [.. args.Skip(i).Take(count + 1)];
    }

    [Fact]
    public void Goals_step_offers_sort_and_route()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        var saved = 0;
        var project = new Project { Name = "Support inbox" };
        var cut = Render<GoalsStep>(p => p.Add(x => x.Project, project).Add(x => x.OnSaved, () => saved++));
        Assert.Contains("What is the model for?", cut.Markup);
        Assert.False(cut.Find("[data-use-case=SortAndRoute] input").HasAttribute("disabled"));
        Assert.False(cut.Find("[data-use-case=AnswerQuestions] input").HasAttribute("disabled"));

        cut.Find("[data-use-case=SortAndRoute] input").Click();
        Assert.Equal(UseCase.SortAndRoute, project.UseCase);
        cut.Find("#add-goal-test").Click();
        Assert.Contains("Right label", cut.Markup);
        cut.Find("#goal-prompt-0").Change("My parcel never arrived");
        cut.Find("#save-goals").Click();
        Assert.Contains("a text and the label it must get", cut.Markup);
        cut.Find("#goal-expect-0").Change("delivery");
        cut.Find("#save-goals").Click();
        Assert.Equal(1, saved);

    }

    [Fact]
    public void Label_review_shows_counts_as_a_chart_and_names_every_problem()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        var rows = new List<LabelledExample>();
        for (int i = 0; i < 30; i++) rows.Add(new($"where is my parcel number {i}", "Delivery", rows.Count + 2));
        for (int i = 0; i < 6; i++) rows.Add(new($"my invoice {i} is wrong", "Billing", rows.Count + 2));
        rows.Add(new("my invoice 9 is wrong", "billing ", rows.Count + 2));                 // differs only by case and a space
        rows.Add(new("where is my parcel number 3", "Billing", rows.Count + 2));            // the same text with another label
        rows.Add(new("", "Delivery", rows.Count + 2));                                      // no text
        rows.Add(new("please reset my password", "Account", rows.Count + 2));               // one example only
        var review = new FileLabelReview("tickets.csv", "message", "team", LabelledDataReview.Of(rows));

        var cut = Render<LabelReviewPanel>(p => p.Add(x => x.Review, review));

        Assert.NotEmpty(cut.FindAll(".label-chart svg"));
        var counts = cut.FindAll(".label-counts tbody tr").Select(r => (r.QuerySelector(".label-name")!.TextContent, r.QuerySelector(".label-count")!.TextContent)).ToList();
        Assert.Equal(("Delivery", "30"), counts[0]);
        Assert.Contains(("\"billing \"", "1"), counts); // the trailing space is made visible
        var kinds = cut.FindAll(".label-finding").Select(f => f.GetAttribute("data-kind")).ToList();
        Assert.Contains(nameof(ReviewFindingKind.LabelVariants), kinds);
        Assert.Contains(nameof(ReviewFindingKind.ConflictingLabels), kinds);
        Assert.Contains(nameof(ReviewFindingKind.EmptyText), kinds);
        Assert.Contains(nameof(ReviewFindingKind.FewExamples), kinds);
        Assert.Contains(nameof(ReviewFindingKind.DominantLabel), kinds);
        // The conflict is listed with its text, so the user can find it.
        Assert.Contains("where is my parcel number 3", cut.Find($".label-finding[data-kind='{nameof(ReviewFindingKind.ConflictingLabels)}']").TextContent);
    }

    [Fact]
    public async Task A_sort_and_route_project_trains_registers_shows_its_figures_and_answers_the_classify_endpoint()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        var project = await host.AddProjectAsync("Support inbox", ("hello there is a problem with the parcel tracking number", "delivery"), ("i forgot my password", "Account"));
        await using (var db = await host.DbAsync())
        {
            var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
            (p.UseCase, p.MaxSteps, p.EvalEvery, p.VocabSize, p.Preset) = (UseCase.SortAndRoute, 24, 4, 300, "tiny");
            // Template texts look alike to near-duplicate removal; real messages rarely do.
            p.RemoveDuplicates = false;
            await db.SaveChangesAsync();
        }
        await using (var csv = new MemoryStream(Encoding.UTF8.GetBytes(TicketsCsv(perLabel: 30, seed: 1))))
        {
            var uploaded = await host.Get<DataUploads>().SaveAsync(project.Id, "tickets.csv", csv, default);
            // "team" is not a usual label column name: the user picks it in the column editor.
            await host.Get<DataUploads>().SetMappingAsync(uploaded.File!.Id, ColumnMapping.Labelled("message", "team"));
        }

        // Data step: the label review reads the file as written; freezing keeps the labelled rows, split by label.
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        var files = await host.Get<DataUploads>().FilesAsync(project.Id);
        var labelReview = Assert.Single(LabelReviews.Of(host.Get<DataUploads>(), files));
        Assert.Equal(("message", "team"), (labelReview.TextColumn, labelReview.LabelColumn));
        Assert.Equal(Labels.Order(), labelReview.Review.Counts.Select(c => c.Label).Order());
        Assert.All(labelReview.Review.Counts, c => Assert.Equal(30, c.Count));
        var dataset = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");
        Assert.Equal(nameof(DatasetTask.Classification), dataset.Task);
        var validationLabels = File.ReadAllLines(Path.Combine(preparation.FolderOf(dataset), "val.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("label").GetString()).ToList();
        Assert.Equal(Labels.Order(), validationLabels.Distinct().Order()); // every label is tested
        Assert.All(Labels, l => Assert.Equal(3, validationLabels.Count(v => v == l)));

        var runId = await host.Get<RunScheduler>().StartAsync(project.Id, "tester");
        await host.Get<TrainingJob>().RunAsync(runId, default);
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Trained, $"{run.Status}: {run.Error}");
            Assert.Equal(TrainingTasks.Classify, run.Task);
            Assert.Equal(dataset.Id, run.DatasetVersionId);
            Assert.True(run.Parameters > 100_000);
        }
        var events = await host.Get<RunService>().ClassificationEventsAsync(runId);
        Assert.Equal("scratch", events.OfType<ClassificationStarted>().Single().Route);
        Assert.Contains(events, e => e is ClassificationPhase { Phase: ClassificationEvent.LanguagePhase });
        Assert.Contains(events, e => e is ClassificationEval { Phase: ClassificationEvent.LabelPhase, Accuracy: not null });
        var finished = events.OfType<ClassificationFinished>().Single();
        // The run's frozen split is the dataset version's, not a second split of its own.
        Assert.Equal(9, events.OfType<ClassificationStarted>().Single().ValidationExamples);

        await host.Get<ExportJob>().RunAsync(runId, default);
        await host.Get<RegisterJob>().RunAsync(runId, default);
        ModelVersion version;
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Succeeded, $"{run.Status}: {run.Error}");
            version = await db.ModelVersions.SingleAsync();
        }
        Assert.Contains("\"Task\":\"classify\"", version.SettingsJson);
        var reports = host.Get<ClassifierReports>();
        Assert.True(reports.IsClassifier(version));
        var goals = VersionDetails.GoalResults(version);
        Assert.Equal(2, goals.Count);
        Assert.All(goals, g => Assert.Contains("sure", g.Text));

        // The results are the engine's figures, as written in the run folder: nothing recomputed.
        var report = reports.Of(version)!;
        Assert.Equal(finished.Accuracy, report.Model.Accuracy);
        Assert.Equal(finished.BaselineAccuracy, report.Baseline.Accuracy);
        Assert.Equal(finished.Summary, report.Summary);
        // Production only for a classifier the verdict calls usable: better than the keyword model trained beside it
        // (a tie is not better) and passing at least half its goal tests.
        var verdict = ModelVerdict.ForClassifier(new ClassifierMeasurements(report.Model.Accuracy, report.Baseline.Accuracy, goals.Count(g => g.Passed), goals.Count, report.TrainExamples));
        await using (var db = await host.DbAsync())
            Assert.Equal(verdict.FitForProduction, await db.Aliases.AnyAsync(a => a.ModelVersionId == version.Id && a.Name == ModelRegistry.Production));
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        var results = Render<ClassifierResults>(p => p.Add(x => x.Report, report));
        Assert.Contains($"Your model: {ClassificationProgress.Percent(report.Model.Accuracy)} correct. A simple keyword model: {ClassificationProgress.Percent(report.Baseline.Accuracy)}.", results.Find("#classifier-summary").TextContent);
        Assert.Equal(Labels.Order(), results.FindAll("#per-label tbody tr").Select(r => r.GetAttribute("data-label")).Order());
        Assert.Equal(Labels.Length, results.FindAll("#confusion-matrix tbody tr").Count);
        Assert.Equal(report.Model.ConfusionMatrix.Sum(r => r.Sum()), results.FindAll("#confusion-matrix tbody td").Sum(td => int.Parse(td.TextContent)));

        // The endpoint: sign-in or key, and only projects the caller may see.
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        await host.AddUserAsync("other@example.com", StudioRoles.Builder);
        var body = new { text = "good morning there is a problem with the courier shipping thanks" };
        using (var anonymous = await host.ClientAsync())
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync($"/api/projects/{project.Id}/classify", body)).StatusCode);
        using (var other = await host.ClientAsync("other@example.com"))
            Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsJsonAsync($"/api/projects/{project.Id}/classify", body)).StatusCode);
        using var admin = await host.ClientAsync("admin@example.com");
        var answer = await admin.PostAsJsonAsync($"/api/projects/{project.Id}/classify", new { texts = new[] { body.text, "i cannot log in, my password is locked out" } });
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var response = (await answer.Content.ReadFromJsonAsync<ClassifyResponse>())!;
        Assert.Equal(version.Number, response.Version);
        Assert.Equal(2, response.Results.Count);
        Assert.All(response.Results, r =>
        {
            Assert.Equal(Labels.Order(), r.Labels.Select(l => l.Label).Order());
            Assert.InRange(r.Labels.Sum(l => l.Probability), 0.999, 1.001);
            Assert.Equal(r.Labels[0].Label, r.Label);
            Assert.True(r.Labels.Zip(r.Labels.Skip(1)).All(pair => pair.First.Probability >= pair.Second.Probability));
        });
        // Probabilities are ONNX Runtime's for this artifact: the same as opening it directly.
        using (var direct = Core.Inference.OnnxClassifier.Open(host.Get<ModelRegistry>().FolderOf(version)))
            Assert.Equal(direct.Classify([body.text])[0][0].Label, response.Results[0].Label);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync($"/api/projects/{project.Id}/classify", new { texts = Array.Empty<string>() })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync($"/api/projects/{project.Id}/classify", new { text = "x", version = "v9" })).StatusCode);

        var otherProject = await host.AddProjectAsync("Another");
        string key;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var adminUser = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>().FindByEmailAsync("admin@example.com");
            var principal = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync(adminUser!);
            using (StudioUserContext.Use(principal))
            {
                key = await host.Get<ApiKeyService>().CreateAsync("router", [project.Id], null);
                var wrongKey = await host.Get<ApiKeyService>().CreateAsync("elsewhere", [otherProject.Id], null);
                using var wrong = new HttpClient { BaseAddress = host.BaseAddress };
                wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", wrongKey);
                Assert.Equal(HttpStatusCode.NotFound, (await wrong.PostAsJsonAsync($"/api/projects/{project.Id}/classify", body)).StatusCode);
            }
        }
        using (var program = new HttpClient { BaseAddress = host.BaseAddress })
        {
            program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.OK, (await program.PostAsJsonAsync($"/api/projects/{project.Id}/classify", body)).StatusCode);
            program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key + "x");
            Assert.Equal(HttpStatusCode.Unauthorized, (await program.PostAsJsonAsync($"/api/projects/{project.Id}/classify", body)).StatusCode);
        }

        // Batch: a file comes back with every row and the two added columns.
        var input = Path.Combine(host.Root, "batch.csv");
        await File.WriteAllTextAsync(input, "id,message\n1,\"hi, my invoice was charged twice\"\n2,where is the parcel\n");
        var output = Path.Combine(host.Root, "batch-sorted.csv");
        Assert.Equal(2, await host.Get<ModelClassification>().ClassifyFileAsync(version, input, "message", output));
        var lines = await File.ReadAllLinesAsync(output);
        Assert.Equal("id,message,predicted_label,confidence", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("1,\"hi, my invoice was charged twice\",", lines[1]);
        await Assert.ThrowsAsync<UserFacingException>(() => host.Get<ModelClassification>().ClassifyFileAsync(version, input, "body", output));
    }
}
