using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Services;

/// <summary>One project on the projects page, with where it stands in words ("Trained: v1 in production").</summary>
public sealed record ProjectSummary(int Id, string Name, string Description, Domain Domain, int WizardStep, int Versions, string Status = "", bool CanDelete = false);

/// <summary>A project opened in the wizard, whether it was trained before (then the wizard opens on its results) and
/// whether a training run produced a version (then the step bar shows training as done).</summary>
public sealed record OpenedProject(Project Project, bool HasRun, bool HasVersion = false);

/// <summary>Projects as the wizard reads and saves them: every step is saved, so a half-finished project can be continued.</summary>
public sealed class ProjectService(IDbContextFactory<StudioDbContext> dbFactory, TimeProvider clock)
{
    public async Task<List<ProjectSummary>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var projects = await db.VisibleProjects().OrderByDescending(p => p.Id)
            .Select(p => new { p.Id, p.Name, p.Description, p.Domain, p.WizardStep, Versions = p.Versions.Count, Latest = p.Versions.Max(v => (int?)v.Number), p.OwnerId }).ToListAsync(ct);
        var production = await db.Aliases.Where(a => a.Name == ModelRegistry.Production)
            .Join(db.ModelVersions, a => a.ModelVersionId, v => v.Id, (a, v) => new { a.ProjectId, v.Number }).ToDictionaryAsync(x => x.ProjectId, x => x.Number, ct);
        var active = await db.Runs.Where(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running || r.Status == RunStatus.Interrupted
                || r.Status == RunStatus.Trained || r.Status == RunStatus.Exporting).Select(r => r.ProjectId).Distinct().ToListAsync(ct);
        return [.. projects.Select(p => new ProjectSummary(p.Id, p.Name, p.Description, p.Domain, p.WizardStep, p.Versions,
            StatusOf(p.WizardStep, p.Latest, production.TryGetValue(p.Id, out var n) ? n : null, active.Contains(p.Id)),
            CanDelete: StudioUserContext.IsAdministrator || (p.OwnerId is not null && p.OwnerId == StudioUserContext.UserId)))];
    }

    /// <summary>The names of the wizard's steps, in order; also their addresses (/projects/7/data).</summary>
    public static IReadOnlyList<string> StepNames { get; } = ["goals", "data", "architecture", "training", "evaluation"];

    /// <summary>The step with this address name; null for an unknown name.</summary>
    public static int? StepIndex(string name)
    {
        for (var i = 0; i < StepNames.Count; i++)
            if (string.Equals(StepNames[i], name, StringComparison.OrdinalIgnoreCase)) return i;
        return null;
    }

    /// <summary>Where a project stands, in words a project card shows.</summary>
    public static string StatusOf(int wizardStep, int? latestVersion, int? productionVersion, bool training) => (latestVersion, productionVersion, training) switch
    {
        (_, _, true) => "Training now",
        (not null, { } production, _) => $"Trained: v{production} in production" + (latestVersion > production ? $", v{latestVersion} newest" : ""),
        ({ } latest, null, _) => $"Trained: v{latest}, not in production",
        _ => $"Setting up: {StepNames[Math.Clamp(wizardStep, 0, 4)]} (step {Math.Clamp(wizardStep, 0, 4) + 1} of 5)",
    };

    /// <summary>The project with its goal tests; null when it does not exist.</summary>
    public async Task<OpenedProject?> OpenAsync(int id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.VisibleProjects().Include(p => p.GoalTests).SingleOrDefaultAsync(p => p.Id == id, ct);
        if (project is null) return null;
        return new OpenedProject(project, await db.Runs.AnyAsync(r => r.ProjectId == id, ct), await db.ModelVersions.AnyAsync(v => v.ProjectId == id, ct));
    }

    /// <summary>
    /// Saves the wizard's copy of the project (a new one is added and gets its id) and records that it reached
    /// <paramref name="wizardStep"/>. Goal tests are merged: removed ones go, new ones are added, changed ones updated.
    /// </summary>
    public async Task SaveAsync(Project project, int wizardStep, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        project.UpdatedAt = now;
        project.WizardStep = Math.Max(project.WizardStep, wizardStep);
        if (project.Id == 0)
        {
            if (!StudioUserContext.CanBuild) throw new UserFacingException("Only Builders and administrators can create projects. Ask an administrator for the Builder role.");
            project.OwnerId = StudioUserContext.UserId;
            project.CreatedAt = now;
            db.Projects.Add(project);
            await db.SaveChangesAsync(ct);
            return;
        }
        await StudioUserContext.EnsureCanBuildAsync(db, project.Id, ct);
        var stored = await db.Projects.Include(x => x.GoalTests).SingleAsync(x => x.Id == project.Id, ct);
        project.OwnerId = stored.OwnerId;
        // The data step saves its switches and the frozen dataset version itself; the wizard's copy may predate them.
        (project.DatasetVersionId, project.RedactPersonalData, project.RemoveDuplicates) = (stored.DatasetVersionId, stored.RedactPersonalData, stored.RemoveDuplicates);
        // Data frozen for another use case is shaped for it (plain text, or text with labels): freeze it again.
        if (stored.UseCase != project.UseCase) project.DatasetVersionId = null;
        db.Entry(stored).CurrentValues.SetValues(project);
        db.GoalTests.RemoveRange(stored.GoalTests.Where(g => project.GoalTests.All(n => n.Id != g.Id)));
        foreach (var g in project.GoalTests)
        {
            if (g.Id == 0) { g.ProjectId = project.Id; stored.GoalTests.Add(g); }
            else db.Entry(stored.GoalTests.Single(x => x.Id == g.Id)).CurrentValues.SetValues(g);
        }
        await db.SaveChangesAsync(ct);
    }
}
