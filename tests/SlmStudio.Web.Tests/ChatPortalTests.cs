using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using SlmStudio.Core.Data;
using SlmStudio.Core.Instruction;
using ChatMessage = SlmStudio.Core.Tokenization.ChatMessage;
using SlmStudio.Core.Training;
using SlmStudio.Web.Api;
using SlmStudio.Web.Components.Pages.Chat;
using SlmStudio.Web.Components.Pages.Projects;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// "Answer questions" through the portal: the first step offers it, the data step reviews the pairs with the engine's
/// review, the training job starts <c>slm train --task chat</c> on the frozen pairs, and the registered chat model shows
/// the engine's scores, runs its goal tests and answers <c>POST /api/projects/{id}/chat</c> under the sign-in rules.
/// </summary>
public sealed class ChatPortalTests : BunitContext, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's services dispose only asynchronously.
    public new async Task DisposeAsync() => await base.DisposeAsync();

    private static readonly (string Topic, string Answer)[] Topics =
    [
        ("opening hours", "We are open from 9 to 5, Monday to Friday."),
        ("password reset", "Click on forgot password and follow the link in the email."),
        ("refund", "Refunds are paid back to your card within 5 days."),
        ("delivery time", "Parcels arrive within 3 working days."),
        ("contact", "Write to help at example dot com or call us."),
    ];

    /// <summary>"question,answer" rows: several wordings of each topic's question, all with the topic's answer.</summary>
    public static string FaqCsv(int pairs)
    {
        string[] wordings = ["what is your {0}?", "tell me about the {0}", "can you explain the {0} please", "i have a question about the {0}", "how does the {0} work", "what about the {0}"];
        var csv = new StringBuilder("question,answer\n");
        for (int i = 0; i < pairs; i++)
        {
            var (topic, answer) = Topics[i % Topics.Length];
            csv.Append('"').Append(string.Format(wordings[i / Topics.Length % wordings.Length], topic)).Append("\",\"").Append(answer).Append("\"\n");
        }
        return csv.ToString();
    }

    [Fact]
    public void Training_arguments_carry_the_chat_task_the_frozen_pair_columns_and_the_base_model()
    {
        var chat = new TrainingRun { Task = TrainingTasks.Chat, Preset = "tiny", VocabSize = 512, MaxStepsSetting = 6, Seed = 3 };
        var args = TrainingJob.BuildArguments(chat, "/runs/1/chat-pairs.jsonl", "/runs/1", resume: true, baseModel: null);
        Assert.Equal(["--task", "chat"], After(args, "--task", 1));
        Assert.Equal(TrainingData.ChatQuestionColumn, After(args, "--question-column", 1)[1]);
        Assert.Equal(TrainingData.ChatAnswerColumn, After(args, "--answer-column", 1)[1]);
        Assert.Equal("tiny", After(args, "--preset", 1)[1]);
        Assert.DoesNotContain("--resume", args); // a chat run starts over; the engine cannot resume one
        Assert.DoesNotContain("--text-column", args);
        Assert.DoesNotContain("--label-column", args);

        var fromLibrary = new TrainingRun { Task = TrainingTasks.Chat, Preset = "tiny", BaseModelName = "stories", UseLora = true };
        var baseArgs = TrainingJob.BuildArguments(fromLibrary, "/d", "/r", resume: false, baseModel: "stories", library: "/srv/models/base");
        Assert.Equal("stories", After(baseArgs, "--base", 1)[1]);
        Assert.Equal("/srv/models/base", After(baseArgs, "--library", 1)[1]);
        Assert.Contains("--lora", baseArgs);
        Assert.DoesNotContain("--preset", baseArgs);
        Assert.Equal(TrainingTasks.Chat, TrainingTasks.Of(UseCase.AnswerQuestions));
    }

    /// <summary>../shared/fixtures beside the repository root (the tiny checkpoints every test suite shares).</summary>
    private static string Fixtures
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln"))) dir = dir.Parent;
            return Path.Combine(dir!.Parent!.FullName, "shared", "fixtures");
        }
    }

    private static string[] After(IReadOnlyList<string> args, string option, int count)
    {
        var i = args.ToList().IndexOf(option);
        Assert.True(i >= 0, $"{option} missing from: {string.Join(' ', args)}");
        return [.. args.Skip(i).Take(count + 1)];
    }

    [Fact]
    public void Goals_step_offers_answer_questions_with_question_and_answer_goal_tests()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        var saved = 0;
        var project = new Project { Name = "Help desk" };
        var cut = Render<GoalsStep>(p => p.Add(x => x.Project, project).Add(x => x.OnSaved, () => saved++));
        cut.Find("[data-use-case=AnswerQuestions] input").Click();
        Assert.Equal(UseCase.AnswerQuestions, project.UseCase);
        cut.Find("#add-goal-test").Click();
        Assert.Contains("Answer must contain", cut.Markup);
        cut.Find("#goal-prompt-0").Change("When are you open?");
        cut.Find("#save-goals").Click();
        Assert.Contains("a question and the text its answer must contain", cut.Markup);
        Assert.Equal(0, saved);
        cut.Find("#goal-expect-0").Change("9");
        cut.Find("#save-goals").Click();
        Assert.Equal(1, saved);
    }

    [Fact]
    public void Pair_review_names_every_problem_in_plain_words()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        var pairs = new List<Conversation>
        {
            Conversation.Pair("When are you open?", "From 9 to 5.", row: 2),
            Conversation.Pair("When are you open?", "Always.", row: 3),   // the same question, another answer
            Conversation.Pair("How do I pay?", "", row: 4),               // no answer
            Conversation.Pair("", "Nobody asked.", row: 5),               // no question
        };
        var review = new FileInstructionReview("faq.csv", "question", "answer", InstructionDataReview.Of(pairs));

        var cut = Render<InstructionReviewPanel>(p => p.Add(x => x.Review, review));

        Assert.Contains("questions from \"question\", answers from \"answer\"", cut.Markup);
        Assert.Contains($"{review.Review.UsableRows} of 4 rows have both a question and an answer", cut.Find(".instruction-summary").TextContent);
        var kinds = cut.FindAll(".instruction-finding").Select(f => f.GetAttribute("data-kind")).ToList();
        Assert.Contains(nameof(InstructionFindingKind.ConflictingAnswers), kinds);
        Assert.Contains(nameof(InstructionFindingKind.EmptyAnswer), kinds);
        Assert.Contains(nameof(InstructionFindingKind.EmptyQuestion), kinds);
        Assert.Contains(nameof(InstructionFindingKind.TooFewPairs), kinds);
        // Each finding says what to do, in the engine's words.
        var empty = review.Review.Findings.Single(f => f.Kind == InstructionFindingKind.EmptyAnswer);
        Assert.Contains(empty.Fix, cut.Find($".instruction-finding[data-kind='{nameof(InstructionFindingKind.EmptyAnswer)}']").TextContent);
    }

    [Fact]
    public void Mapping_editor_builds_question_and_answer_columns()
    {
        Assert.Equal(ColumnMapping.QuestionAnswer("q", "a"), ColumnMappingEditor.BuildPairs(["q", "a", "x"], "q", "a").Mapping);
        Assert.Contains("questions", ColumnMappingEditor.BuildPairs(["q", "a"], null, "a").Error);
        Assert.Contains("different column", ColumnMappingEditor.BuildPairs(["q", "a"], "q", "q").Error);
        Assert.Contains("no column 'z'", ColumnMappingEditor.BuildPairs(["q", "a"], "q", "z").Error);
    }

    [Fact]
    public async Task An_answer_questions_project_trains_on_a_library_base_model_registers_shows_the_engines_scores_and_answers_the_chat_endpoint()
    {
        var library = Path.Combine(Path.GetTempPath(), "slm-web-tests", "library-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var host = await StudioTestHost.StartAsync(new() { ["Studio:BaseModelsPath"] = library }, web: true);
            host.Get<BaseModelCatalog>().Library.Import(Path.Combine(Fixtures, "stories260K-hf"), "stories");
            await host.Get<BaseModelCatalog>().ScanAsync();
            await TrainAndUseAsync(host);
        }
        finally
        {
            try { Directory.Delete(library, recursive: true); } catch (IOException) { }
        }
    }

    private async Task TrainAndUseAsync(StudioTestHost host)
    {
        var project = await host.AddProjectAsync("Help desk", ("what is your opening hours?", "9"));
        await using (var db = await host.DbAsync())
        {
            var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
            (p.UseCase, p.MaxSteps, p.EvalEvery, p.BaseModelName) = (UseCase.AnswerQuestions, 30, 10, "stories");
            // Several questions share an answer on purpose; near-duplicate removal would drop them.
            p.RemoveDuplicates = false;
            await db.SaveChangesAsync();
        }
        await using (var csv = new MemoryStream(Encoding.UTF8.GetBytes(FaqCsv(30))))
        {
            var uploaded = await host.Get<DataUploads>().SaveAsync(project.Id, "faq.csv", csv, default);
            // "question" and "answer" are the usual names: the upload keeps them as the suggested mapping.
            Assert.Equal(ColumnMapping.QuestionAnswer("question", "answer").ToString(), uploaded.File!.Mapping);
        }

        // Data step: the engine's review of the pairs as written; freezing keeps the pairs.
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        var files = await host.Get<DataUploads>().FilesAsync(project.Id);
        var review = Assert.Single(InstructionReviews.Of(host.Get<DataUploads>(), files));
        Assert.Equal(("question", "answer"), (review.QuestionColumn, review.AnswerColumn));
        Assert.Equal(30, review.Review.UsableRows);
        Assert.DoesNotContain(review.Review.Findings, f => f.Kind is InstructionFindingKind.EmptyAnswer or InstructionFindingKind.ConflictingAnswers);
        var dataset = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");
        Assert.Equal(nameof(DatasetTask.QuestionAnswer), dataset.Task);

        var runId = await host.Get<RunScheduler>().StartAsync(project.Id, "tester");
        await host.Get<TrainingJob>().RunAsync(runId, default);
        var runFolder = host.Get<Options.StudioPaths>().Run(runId);
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Trained, $"{run.Status}: {run.Error}");
            Assert.Equal(TrainingTasks.Chat, run.Task);
            Assert.Equal(dataset.Id, run.DatasetVersionId);
        }
        Assert.True(InstructionRunFolder.IsInstructionRun(runFolder));
        // Every frozen pair went to the engine, in the one file it reads.
        var frozen = preparation.FolderOf(dataset);
        var gathered = File.ReadAllLines(Path.Combine(runFolder, TrainingData.ChatPairsFile));
        Assert.True(gathered.Order().SequenceEqual(File.ReadAllLines(Path.Combine(frozen, "train.jsonl")).Concat(File.ReadAllLines(Path.Combine(frozen, "val.jsonl"))).Order()),
            string.Join("\n", gathered));
        Assert.Equal(30, gathered.Length);

        await host.Get<ExportJob>().RunAsync(runId, default);
        await host.Get<RegisterJob>().RunAsync(runId, default);
        ModelVersion version;
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Succeeded, $"{run.Status}: {run.Error}");
            version = await db.ModelVersions.SingleAsync();
        }
        var reports = host.Get<ChatReports>();
        Assert.True(reports.IsChat(version));
        Assert.False(host.Get<ClassifierReports>().IsClassifier(version));

        // Goal tests were asked as questions of the chat model, and judged as the engine judges them.
        var goal = Assert.Single(VersionDetails.GoalResults(version));
        Assert.Equal("what is your opening hours?", goal.Prompt);
        Assert.Equal(ChatGoalTests.Passes(goal.Text, "9"), goal.Passed);
        Assert.DoesNotContain("### Answer", goal.Text);

        // The results are the engine's scores, as written in the run folder: nothing recomputed.
        var written = JsonNode.Parse(File.ReadAllText(RunFolder.At(runFolder).ChatResultsFile))!;
        var report = reports.Of(version)!;
        Assert.Equal(written["tokenF1"]!.GetValue<double>(), report.TokenF1);
        Assert.Equal(written["rougeL"]!.GetValue<double>(), report.RougeL);
        Assert.Equal(written["exactMatch"]!.GetValue<double>(), report.ExactMatch);
        Assert.Equal(written["before"]!["tokenF1"]!.GetValue<double>(), report.Before.TokenF1);
        Assert.Equal(written["summary"]!.GetValue<string>(), report.Summary);
        Assert.Equal(written["worst"]!.AsArray().Count, report.Worst.Count);
        Assert.NotEmpty(report.Best);
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        // Production is decided by the chat rule (held-out token F1 and goal tests), and the results show that verdict.
        var verdict = ChatReports.VerdictOf(report, VersionDetails.GoalResults(version));
        await using (var db = await host.DbAsync())
            Assert.Equal(verdict.FitForProduction, await db.Aliases.AnyAsync(a => a.ModelVersionId == version.Id && a.Name == ModelRegistry.Production));
        var results = Render<ChatResults>(p => p.Add(x => x.Report, report).Add(x => x.Goals, VersionDetails.GoalResults(version)));
        Assert.Equal(verdict.Level.ToString(), results.Find("#chat-verdict .verdict").GetAttribute("data-verdict"));
        Assert.Contains(verdict.Why, results.Find("#chat-verdict").TextContent);
        Assert.Equal(report.Summary, results.Find("#chat-summary").TextContent.Trim());
        Assert.Equal(report.TokenF1.ToString("0.000"), results.Find("#chat-f1").TextContent);
        Assert.Equal(report.RougeL.ToString("0.000"), results.Find("#chat-rouge").TextContent);
        Assert.NotEmpty(results.FindAll("#chat-chart svg"));
        Assert.Contains(report.Before.TokenF1.ToString("0.000"), results.Find("#chat-chart").GetAttribute("aria-label"));
        var best = results.FindAll("#chat-best tbody tr");
        Assert.Equal(report.Best.Count, best.Count);
        Assert.Contains(report.Best[0].Expected, best[0].TextContent);

        // The endpoint: sign-in or key, and only projects the caller may see.
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        await host.AddUserAsync("other@example.com", StudioRoles.Builder);
        var body = new { messages = new[] { new { role = "user", content = "what is your refund?" } }, max_tokens = 24 };
        using (var anonymous = await host.ClientAsync())
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync($"/api/projects/{project.Id}/chat", body)).StatusCode);
        using (var other = await host.ClientAsync("other@example.com"))
            Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsJsonAsync($"/api/projects/{project.Id}/chat", body)).StatusCode);
        using var admin = await host.ClientAsync("admin@example.com");
        var reply = await admin.PostAsJsonAsync($"/api/projects/{project.Id}/chat", body);
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        var response = (await reply.Content.ReadFromJsonAsync<ProjectChatResponse>())!;
        Assert.Equal(version.Number, response.Version);
        Assert.Equal("assistant", response.Message.Role);
        // Greedy answers are ONNX Runtime's for this artifact: the same as asking the engine directly.
        using (var artifact = Core.Inference.OnnxArtifact.Open(host.Get<ModelRegistry>().FolderOf(version)))
            Assert.Equal(ChatSession.Answer(artifact, [new ChatMessage("user", "what is your refund?")], Core.Inference.GenerationSettings.Greedy(24)), response.Answer);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync($"/api/projects/{project.Id}/chat", new { messages = Array.Empty<object>() })).StatusCode);
        var endsWithAnswer = new { messages = new[] { new { role = "user", content = "hi" }, new { role = "assistant", content = "hello" } } };
        var refused = await admin.PostAsJsonAsync($"/api/projects/{project.Id}/chat", endsWithAnswer);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("last message must be the user's question", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync($"/api/projects/{project.Id}/chat", new { body.messages, version = "v9" })).StatusCode);

        var otherProject = await host.AddProjectAsync("Another");
        string key;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var adminUser = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>().FindByEmailAsync("admin@example.com");
            var principal = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync(adminUser!);
            using (StudioUserContext.Use(principal))
            {
                key = await host.Get<ApiKeyService>().CreateAsync("helper", [project.Id], null);
                var wrongKey = await host.Get<ApiKeyService>().CreateAsync("elsewhere", [otherProject.Id], null);
                using var wrong = new HttpClient { BaseAddress = host.BaseAddress };
                wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", wrongKey);
                Assert.Equal(HttpStatusCode.NotFound, (await wrong.PostAsJsonAsync($"/api/projects/{project.Id}/chat", body)).StatusCode);
            }
        }
        using (var program = new HttpClient { BaseAddress = host.BaseAddress })
        {
            program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.OK, (await program.PostAsJsonAsync($"/api/projects/{project.Id}/chat", body)).StatusCode);
            program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key + "x");
            Assert.Equal(HttpStatusCode.Unauthorized, (await program.PostAsJsonAsync($"/api/projects/{project.Id}/chat", body)).StatusCode);
        }

        // The playground's conversation: multi-turn on the shared, verified model; a new conversation forgets.
        var session = await host.Get<ModelChat>().StartAsync(version, maxNewTokens: 16);
        var streamed = new StringBuilder();
        await foreach (var piece in session.SendAsync("what is your contact?")) streamed.Append(piece);
        await session.AskAsync("and the delivery time?");
        Assert.Equal(4, session.History.Count);
        Assert.DoesNotContain("###", session.History[1].Content);
        session.Reset();
        Assert.Empty(session.History);
    }
}
