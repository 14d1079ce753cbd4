from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Institution, Invitation, Membership, Partnership, PersonalAccessToken, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class OpenRoundsUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), ("OpenRounds", {"fields": ("display_name", "time_zone", "languages", "preferred_language", "data_saver", "bio")}))
    list_display = ("username", "email", "display_name", "time_zone", "is_staff")
    inlines = [MembershipInline]


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "city", "time_zone")
    list_filter = ("country",)
    search_fields = ("name", "city")
    inlines = [MembershipInline]


@admin.register(Partnership)
class PartnershipAdmin(admin.ModelAdmin):
    list_display = ("first", "second", "status", "proposed_by", "proposed_at")
    list_filter = ("status",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "institution", "role", "created_at", "accepted_at", "revoked_at")


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "prefix", "created_at", "revoked_at")
    readonly_fields = ("digest", "prefix")
