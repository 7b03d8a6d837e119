using SlmStudio.Core.Training;
using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Jobs;

/// <summary>Continuation of export: registers the exported artifacts as the project's next immutable version.</summary>
public sealed class RegisterJob(IDbContextFactory<StudioDbContext> dbFactory, ModelRegistry registry, VersionVerdicts verdicts, RunNotifier notifier,
    IArtifactStore artifacts, TimeProvider clock, ILogger<RegisterJob> logger)
{
    [AutomaticRetry(Attempts = 1, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public async Task RunAsync(int runId, CancellationToken cancellationToken)
    {
        using var logScope = JobLogScope.Begin(logger, runId);
        using var asSystem = Security.StudioUserContext.UseSystem();
        var runDir = await artifacts.CheckOutAsync(ArtifactArea.Runs, SharedFolderArtifactStore.RunKey(runId), cancellationToken);
        var folder = RunFolder.At(runDir);
        // The same lease as export: one registration at a time, and never while the staging folder is being rewritten.
        using var lease = Directory.Exists(folder.Root) ? folder.TryLockExport() : null;
        if (lease is null)
        {
            logger.LogInformation("Run {RunId} is being exported or registered by another worker; not registering it here", runId);
            return;
        }
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var run = await db.Runs.SingleAsync(r => r.Id == runId, cancellationToken);
        if (run.Status != RunStatus.Exporting) return;
        var staging = folder.ExportDirectory;
        if (!Directory.Exists(staging)) return;

        var lineagePath = Path.Combine(runDir, TrainingData.LineageFile);
        var dataJson = File.Exists(lineagePath) ? await File.ReadAllTextAsync(lineagePath, cancellationToken) : "[]";
        var samples = await LastSamplesAsync(db, runId, cancellationToken);
        var goalTests = await db.GoalTests.Where(g => g.ProjectId == run.ProjectId).OrderBy(g => g.Id).ToListAsync(cancellationToken);
        var goals = new List<GoalResult>();
        if (goalTests.Count > 0 && Core.Inference.OnnxClassifier.IsClassifierArtifact(staging))
        {
            using var classifier = Core.Inference.OnnxClassifier.Open(staging);
            goals = ClassifierGoals.Run(classifier, goalTests, cancellationToken);
        }
        else if (goalTests.Count > 0 && Core.Instruction.ChatSession.IsChatArtifact(staging))
        {
            using var artifact = Core.Inference.OnnxArtifact.Open(staging);
            goals = await ChatGoals.RunAsync(artifact, goalTests, cancellationToken);
        }
        else if (goalTests.Count > 0)
        {
            using var artifact = Core.Inference.OnnxArtifact.Open(staging);
            goals = await ModelGeneration.RunGoalTestsAsync(new Core.Inference.TextGenerator(artifact), goalTests, cancellationToken);
        }

        var version = await registry.RegisterAsync(run, staging, v =>
        {
            v.DataJson = dataJson;
            v.DatasetVersionId = run.DatasetVersionId;
            v.SamplesJson = samples;
            v.GoalResultsJson = JsonSerializer.Serialize(goals);
            // What the run trained and what it started from belong to the version's lineage too.
            var settings = System.Text.Json.Nodes.JsonNode.Parse(v.SettingsJson)?.AsObject() ?? [];
            settings["Task"] = run.Task;
            settings["BaseModelName"] = run.BaseModelName;
            settings["UseLora"] = run.UseLora;
            v.SettingsJson = settings.ToJsonString();
            return Task.CompletedTask;
        }, cancellationToken);

        // A project's first usable version becomes production; one judged "not useful yet" is kept for inspection
        // but never made production without a person choosing it. The verdict is the one the pages show, by the rule
        // of the version's task (a classifier against the keyword model, a chat model by its held-out answers).
        var fit = (await verdicts.OfAsync([version], cancellationToken))[version.Id].FitForProduction;
        if (fit) await registry.MakeProductionIfNoneAsync(version.Id, cancellationToken);

        run.ModelVersionId = version.Id;
        run.Status = RunStatus.Succeeded;
        run.FinishedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(CancellationToken.None);
        logger.LogInformation("Run {RunId} registered as version {Number}", runId, version.Number);
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Succeeded));
    }

    private static async Task<string> LastSamplesAsync(StudioDbContext db, int runId, CancellationToken ct)
    {
        var json = await db.RunEvents.Where(e => e.RunId == runId && e.Kind == "eval").OrderByDescending(e => e.Id).Select(e => e.Json).FirstOrDefaultAsync(ct);
        var samples = (TrainingEvent.Parse(json) as EvaluationResult)?.Samples ?? [];
        return JsonSerializer.Serialize(samples);
    }
}
