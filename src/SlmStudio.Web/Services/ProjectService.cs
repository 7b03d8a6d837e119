using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Services;

/// <summary>One project on the projects page.</summary>
public sealed record ProjectSummary(int Id, string Name, string Description, Domain Domain, int WizardStep, int Versions);

/// <summary>A project opened in the wizard, and whether it was trained before (then the wizard opens on its results).</summary>
public sealed record OpenedProject(Project Project, bool HasRun);

/// <summary>Projects as the wizard reads and saves them: every step is saved, so a half-finished project can be continued.</summary>
public sealed class ProjectService(IDbContextFactory<StudioDbContext> dbFactory, TimeProvider clock)
{
    public async Task<List<ProjectSummary>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.VisibleProjects().OrderByDescending(p => p.Id)
            .Select(p => new ProjectSummary(p.Id, p.Name, p.Description, p.Domain, p.WizardStep, p.Versions.Count)).ToListAsync(ct);
    }

    /// <summary>The project with its goal tests; null when it does not exist.</summary>
    public async Task<OpenedProject?> OpenAsync(int id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.VisibleProjects().Include(p => p.GoalTests).SingleOrDefaultAsync(p => p.Id == id, ct);
        if (project is null) return null;
        return new OpenedProject(project, await db.Runs.AnyAsync(r => r.ProjectId == id, ct));
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
