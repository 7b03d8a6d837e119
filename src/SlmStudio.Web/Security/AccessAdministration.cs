using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Security;

/// <summary>One person on the people page.</summary>
public sealed record PersonRow(string Id, string Email, string Role, bool LockedOut);

/// <summary>A project with its owner and members, on the people page.</summary>
public sealed record ProjectAccessRow(int ProjectId, string Project, string? Owner, List<(string UserId, string Email)> Members);

/// <summary>What administrators change on the people page: people, their role, and who may see which project.</summary>
public sealed class AccessAdministration(IServiceScopeFactory scopes, IDbContextFactory<StudioDbContext> dbFactory, TimeProvider clock, AuditLog audit)
{
    private static void EnsureAdministrator()
    {
        if (!StudioUserContext.IsAdministrator) throw new UserFacingException("Only administrators can change people and access.");
    }

    public async Task<List<PersonRow>> PeopleAsync()
    {
        EnsureAdministrator();
        await using var db = await dbFactory.CreateDbContextAsync();
        var roles = await (from ur in db.UserRoles join r in db.Roles on ur.RoleId equals r.Id select new { ur.UserId, r.Name }).ToListAsync();
        var users = await db.Users.OrderBy(u => u.Email).ToListAsync();
        var now = clock.GetUtcNow();
        return users.Select(u => new PersonRow(u.Id, u.Email ?? u.UserName ?? "", roles.FirstOrDefault(r => r.UserId == u.Id)?.Name ?? "", u.LockoutEnd > now)).ToList();
    }

    public async Task<IReadOnlyList<string>> AddPersonAsync(string email, string password, string role)
    {
        EnsureAdministrator();
        if (!StudioRoles.All.Contains(role)) return ["Choose a role."];
        await using var scope = scopes.CreateAsyncScope();
        var errors = await FirstRunSetup.CreateUserAsync(scope.ServiceProvider.GetRequiredService<UserManager<StudioUser>>(), email, password, role);
        if (errors.Count == 0) await audit.RecordAsync(AuditActions.PersonAdded, $"{email.Trim()} as {role}");
        return errors;
    }

    public async Task SetRoleAsync(string userId, string role)
    {
        EnsureAdministrator();
        if (!StudioRoles.All.Contains(role)) throw new UserFacingException("Choose one of the roles Administrator, Builder or Viewer.");
        if (userId == StudioUserContext.UserId && role != StudioRoles.Administrator)
            throw new UserFacingException("You cannot take away your own administrator role; ask another administrator.");
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<StudioUser>>();
        var user = await users.FindByIdAsync(userId) ?? throw new UserFacingException("That person no longer exists.");
        await users.RemoveFromRolesAsync(user, await users.GetRolesAsync(user));
        await users.AddToRoleAsync(user, role);
        // Signs them out everywhere, so the new role applies at their next sign-in rather than whenever their cookie expires.
        await users.UpdateSecurityStampAsync(user);
        await audit.RecordAsync(AuditActions.RoleChanged, $"{user.Email} is now {role}");
    }

    public async Task<List<ProjectAccessRow>> ProjectsAsync()
    {
        EnsureAdministrator();
        await using var db = await dbFactory.CreateDbContextAsync();
        var emails = await db.Users.ToDictionaryAsync(u => u.Id, u => u.Email ?? u.UserName ?? "");
        var projects = await db.Projects.Include(p => p.Members).OrderBy(p => p.Name).ToListAsync();
        return projects.Select(p => new ProjectAccessRow(p.Id, p.Name, p.OwnerId is null ? null : emails.GetValueOrDefault(p.OwnerId),
            p.Members.Select(m => (m.UserId, emails.GetValueOrDefault(m.UserId, "?"))).ToList())).ToList();
    }

    /// <summary>Adds a member; the project's owner or an administrator may share a project.</summary>
    public async Task AddMemberAsync(int projectId, string userId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var project = await db.Projects.SingleOrDefaultAsync(p => p.Id == projectId) ?? throw new UserFacingException("That project no longer exists.");
        if (!StudioUserContext.IsAdministrator && project.OwnerId != StudioUserContext.UserId)
            throw new UserFacingException("Only the project's owner or an administrator can share it.");
        if (await db.ProjectMembers.AnyAsync(m => m.ProjectId == projectId && m.UserId == userId)) return;
        db.ProjectMembers.Add(new ProjectMember { ProjectId = projectId, UserId = userId, AddedAt = clock.GetUtcNow() });
        await db.SaveChangesAsync();
        await audit.RecordAsync(AuditActions.MemberAdded, await EmailOfAsync(db, userId), projectId);
    }

    public async Task RemoveMemberAsync(int projectId, string userId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var project = await db.Projects.SingleOrDefaultAsync(p => p.Id == projectId) ?? throw new UserFacingException("That project no longer exists.");
        if (!StudioUserContext.IsAdministrator && project.OwnerId != StudioUserContext.UserId)
            throw new UserFacingException("Only the project's owner or an administrator can change who sees it.");
        if (await db.ProjectMembers.Where(m => m.ProjectId == projectId && m.UserId == userId).ExecuteDeleteAsync() > 0)
            await audit.RecordAsync(AuditActions.MemberRemoved, await EmailOfAsync(db, userId), projectId);
    }

    private static async Task<string> EmailOfAsync(StudioDbContext db, string userId) =>
        await db.Users.Where(u => u.Id == userId).Select(u => u.Email).SingleOrDefaultAsync() ?? "(someone deleted)";
}
