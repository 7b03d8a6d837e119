using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Services;

/// <summary>What deleting a project removes, for the confirmation people read before they agree.</summary>
public sealed record ProjectDeletionPlan(int ProjectId, string Name, List<string> Uploads, int DatasetVersions, int Runs, List<int> RegisteredVersions, string? Blocker)
{
    /// <summary>The confirmation's list, in words.</summary>
    public IEnumerable<string> Lines()
    {
        yield return Uploads.Count == 0 ? "no uploaded files" : $"{Uploads.Count} uploaded file{(Uploads.Count == 1 ? "" : "s")} and their extracted text: {string.Join(", ", Uploads.Take(10))}{(Uploads.Count > 10 ? $" and {Uploads.Count - 10} more" : "")}";
        yield return $"{DatasetVersions} frozen dataset version{(DatasetVersions == 1 ? "" : "s")}";
        yield return $"{Runs} training run{(Runs == 1 ? "" : "s")} with their checkpoints";
        yield return RegisteredVersions.Count == 0 ? "no registered models" : $"registered model version{(RegisteredVersions.Count == 1 ? "" : "s")} {string.Join(", ", RegisteredVersions)}: they can no longer be downloaded or used in the playground or the API";
    }
}

/// <summary>
/// Deletes a project with everything made from it: uploads, extracted text, dataset versions, runs and registered
/// model versions, rows and files. Only its owner or an administrator may, never while one of its runs is training;
/// the audit log keeps the fact of the deletion (counts and the name), not the data.
/// </summary>
public sealed class ProjectDeletion(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, AuditLog audit, ILogger<ProjectDeletion> logger)
{
    /// <summary>What would be deleted, and why it cannot be now (<see cref="ProjectDeletionPlan.Blocker"/>), for the confirmation.</summary>
    public async Task<ProjectDeletionPlan> PlanAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.VisibleProjects().SingleOrDefaultAsync(p => p.Id == projectId, ct)
            ?? throw new UserFacingException("That project does not exist, or you do not have access to it.");
        if (!StudioUserContext.IsAdministrator && project.OwnerId != StudioUserContext.UserId)
            throw new UserFacingException("Only the project's owner or an administrator can delete it.");
        var runs = await db.Runs.Where(r => r.ProjectId == projectId).ToListAsync(ct);
        var busy = runs.FirstOrDefault(r => r.IsActive || RunFolder.At(paths.Run(r.Id)).IsTrainerRunning);
        var blocker = busy is null ? null
            : $"Training run {busy.Id} of this project is still {(busy.Status == RunStatus.Exporting || busy.Status == RunStatus.Trained ? "being turned into a model" : busy.Status == RunStatus.Interrupted ? "waiting to be resumed" : "training")}. Cancel it on its page, wait until it has stopped, then delete the project.";
        return new ProjectDeletionPlan(projectId, project.Name,
            await db.DataFiles.Where(f => f.ProjectId == projectId).OrderBy(f => f.Id).Select(f => f.OriginalName).ToListAsync(ct),
            await db.DatasetVersions.CountAsync(d => d.ProjectId == projectId, ct),
            runs.Count,
            await db.ModelVersions.Where(v => v.ProjectId == projectId).OrderBy(v => v.Number).Select(v => v.Number).ToListAsync(ct),
            blocker);
    }

    /// <summary>
    /// Deletes the project once <paramref name="confirmedName"/> is its name (what the confirmation asks to type);
    /// refuses, saying why, while a run is training or when the person may not.
    /// </summary>
    public async Task DeleteAsync(int projectId, string confirmedName, CancellationToken ct = default)
    {
        var plan = await PlanAsync(projectId, ct);
        if (plan.Blocker is { } blocker) throw new UserFacingException(blocker);
        if (!string.Equals(confirmedName.Trim(), plan.Name.Trim(), StringComparison.Ordinal))
            throw new UserFacingException($"Type the project's name, {plan.Name}, to confirm that it and everything listed should be deleted.");

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var runIds = await db.Runs.Where(r => r.ProjectId == projectId).Select(r => r.Id).ToListAsync(ct);
        var datasetFolders = await db.DatasetVersions.Where(d => d.ProjectId == projectId).Select(d => d.Folder).ToListAsync(ct);
        // A dataset folder is named by its content, so another project with the same data shares it: that one keeps it.
        var sharedFolders = (await db.DatasetVersions.Where(d => d.ProjectId != projectId && datasetFolders.Contains(d.Folder)).Select(d => d.Folder).ToListAsync(ct)).ToHashSet();
        var versionFolders = await db.ModelVersions.Where(v => v.ProjectId == projectId).Select(v => v.Folder).ToListAsync(ct);

        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            // Children before what they point at: aliases and versions, then runs, then the dataset versions they used.
            await db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.DatasetVersionId, (int?)null), ct);
            await db.Aliases.Where(a => a.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.ModelVersions.Where(v => v.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.RunEvents.Where(e => runIds.Contains(e.RunId)).ExecuteDeleteAsync(ct);
            await db.Runs.Where(r => r.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.DatasetVersions.Where(d => d.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.DataFiles.Where(f => f.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.GoalTests.Where(g => g.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.ProjectMembers.Where(m => m.ProjectId == projectId).ExecuteDeleteAsync(ct);
            await db.Projects.Where(p => p.Id == projectId).ExecuteDeleteAsync(ct);
            await transaction.CommitAsync(ct);
        }

        // Files after the rows: a file left by a failure here is unreachable (no row names it) and logged, never served.
        var folders = new List<string> { paths.Uploads(projectId), Path.Combine(paths.Models, $"project-{projectId}") };
        folders.AddRange(runIds.Select(paths.Run));
        folders.AddRange(datasetFolders.Where(f => !sharedFolders.Contains(f)).Select(f => Path.Combine(paths.Jobs, f)));
        folders.AddRange(versionFolders.Select(f => Path.Combine(paths.Models, f)));
        foreach (var folder in folders.Distinct())
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogError(e, "Deleting project {ProjectId}: could not delete {Folder}; delete it by hand", projectId, folder);
            }
        }
        await audit.RecordAsync(AuditActions.ProjectDeleted,
            $"'{plan.Name}' with {plan.Uploads.Count} uploads, {plan.DatasetVersions} dataset versions, {plan.Runs} runs and {plan.RegisteredVersions.Count} registered versions", projectId);
        logger.LogInformation("Project {ProjectId} deleted with {Runs} runs and {Versions} versions", projectId, plan.Runs, plan.RegisteredVersions.Count);
    }
}
