using SlmStudio.Core.Training;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Jobs;

/// <summary>Queues a run's chain: training, then export and registration as continuations.</summary>
public sealed class RunScheduler(IBackgroundJobClient jobs, IDbContextFactory<StudioDbContext> dbFactory, Services.PresetBenchmarks benchmarks,
    Options.StudioPaths paths, TrainingQueues queues, TimeProvider clock, Security.AuditLog audit, Services.FineTunePlanner fineTunes, ILogger<RunScheduler> logger)
{
    /// <summary>Creates a run from the project's current settings and queues it.</summary>
    public async Task<int> StartAsync(int projectId, string user, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.Projects.SingleAsync(p => p.Id == projectId, ct);
        if (await db.Runs.AnyAsync(r => r.ProjectId == projectId && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running), ct))
            throw new UserFacingException("This project already has a training run in progress. Wait for it to finish or cancel it first.");
        // The page refuses too; this is the check that holds for every way a run can be started.
        if (project.BaseVersionId is null && project.BaseModelName is { } baseModel && await fineTunes.PlanAsync(baseModel, project.UseLora, ct) is { Refusal: { } refusal })
            throw new UserFacingException(refusal);
        var run = new TrainingRun
        {
            ProjectId = projectId,
            Status = RunStatus.Queued,
            CreatedAt = clock.GetUtcNow(),
            CreatedBy = user,
            Preset = project.Preset,
            VocabSize = project.VocabSize,
            BaseVersionId = project.BaseVersionId,
            // A version and a library model are alternatives; the architecture step keeps only one of them set.
            BaseModelName = project.BaseVersionId is null ? project.BaseModelName : null,
            UseLora = project.UseLora && project.BaseVersionId is null && project.BaseModelName is not null,
            Task = TrainingTasks.Of(project.UseCase),
            Minutes = project.MaxSteps is null ? project.TimeBudgetMinutes : null,
            MaxStepsSetting = project.MaxSteps,
            Seed = project.Seed,
            EvalEvery = project.EvalEvery ?? await AutomaticEvalEveryAsync(project),
            DatasetVersionId = project.DatasetVersionId,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync(ct);
        await EnqueueAsync(run.Id, ct);
        await audit.RecordAsync(Security.AuditActions.TrainingStarted, $"run {run.Id} ({run.Preset}, {(run.MaxStepsSetting is { } steps ? $"{steps} steps" : $"{run.Minutes} minutes")})", projectId, user);
        return run.Id;
    }

    /// <summary>
    /// About ten evaluations per run, from the steps the time budget allows at the measured speed; null (the trainer's
    /// default) when this machine has not been measured for the preset.
    /// </summary>
    public async Task<int?> AutomaticEvalEveryAsync(Project project)
    {
        int? steps = project.MaxSteps;
        if (steps is null && project.BaseVersionId is null
            && await benchmarks.CachedAsync(project.Preset, project.VocabSize) is { } measured
            && Core.Models.ModelPresets.All.FirstOrDefault(p => p.Name == project.Preset) is { } preset)
            steps = TimeBudget.StepsFor(measured.TokensPerSecond, project.TimeBudgetMinutes, preset.BatchSize, preset.ContextLength);
        return steps is { } s ? Math.Clamp(s / 10, 1, 500) : null;
    }

    /// <summary>Queues (again) an existing run; the trainer resumes from its checkpoint when there is one.</summary>
    public async Task EnqueueAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var queue = queues.ForRun(await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId, ct));
        var training = jobs.Create<TrainingJob>(j => j.RunAsync(runId, CancellationToken.None), new Hangfire.States.EnqueuedState(queue));
        var export = jobs.ContinueJobWith<ExportJob>(training, j => j.RunAsync(runId, CancellationToken.None));
        jobs.ContinueJobWith<RegisterJob>(export, j => j.RunAsync(runId, CancellationToken.None));
        await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.HangfireJobId, training), ct);
        logger.LogInformation("Run {RunId} queued as job {JobId} on queue {Queue}", runId, training, queue);
    }

    /// <summary>Asks a running run to stop at its next step (it saves a checkpoint first); a queued one is cancelled at once.</summary>
    public async Task CancelAsync(int runId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        if (run.Status is RunStatus.Queued or RunStatus.Interrupted)
        {
            run.Status = RunStatus.Cancelled;
            run.FinishedAt = clock.GetUtcNow();
        }
        else if (run.Status == RunStatus.Running) run.CancelRequested = true;
        await db.SaveChangesAsync();
        await audit.RecordAsync(Security.AuditActions.TrainingCancelled, $"run {runId}", run.ProjectId);
        // The worker sees the flag at its next heartbeat; when it runs on this machine, the trainer's stop file
        // makes it stop at the next step already.
        var runDir = paths.Run(runId);
        if (run.CancelRequested && Directory.Exists(runDir))
        {
            try { await File.WriteAllTextAsync(RunFolder.At(runDir).CancelFile, "Cancelled"); }
            catch (IOException e) { logger.LogWarning(e, "Could not write the stop file of run {RunId}; the heartbeat will stop it", runId); }
        }
    }

    /// <summary>Continues a cancelled or interrupted run from its last checkpoint.</summary>
    public async Task ResumeAsync(int runId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var changed = await db.Runs.Where(r => r.Id == runId && (r.Status == RunStatus.Cancelled || r.Status == RunStatus.Interrupted || r.Status == RunStatus.Failed))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Queued).SetProperty(r => r.FinishedAt, (DateTimeOffset?)null)
                .SetProperty(r => r.CancelRequested, false).SetProperty(r => r.Error, (string?)null));
        if (changed == 1) await EnqueueAsync(runId);
    }
}
